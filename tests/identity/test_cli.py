"""`seqtrack admin create`: the first administrator, never a default password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.database import CHEAP_PASSWORD_HASHING
from tests.fixtures.identity import make_member, make_tenant, new_password


def _run(
    data_dir: Path, database_url: str, *args: str, stdin: str = "", secret_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # The same installation as the test's database: e-mail lookups use an index keyed by its secret.
        **({"SEQTRACK_SECRET_KEY": secret_key} if secret_key else {}),
        "SEQTRACK_DATA_DIR": str(data_dir),
        "SEQTRACK_DATABASE_URL": database_url,
        "SEQTRACK_LOG_FORMAT": "json",
        **{f"SEQTRACK_{name.upper()}": str(value) for name, value in CHEAP_PASSWORD_HASHING.items()},
    }
    return subprocess.run(
        [sys.executable, "-m", "seqtrack", *args], input=stdin, capture_output=True, text=True, env=env, check=False
    )


async def test_admin_create_makes_the_facility_and_an_admin_who_can_log_in(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    from seqtrack.identity import repository

    password = new_password()
    result = _run(
        tmp_path,
        database_url,
        "admin",
        "create",
        "--email",
        "Head@Core.example",
        "--tenant",
        "core-seq",
        "--tenant-name",
        "Core Sequencing",
        "--password-stdin",
        stdin=password + "\n",
        secret_key=database.settings.signing_key(),
    )
    assert result.returncode == 0, result.stderr
    assert "created administrator head@core.example" in result.stdout

    async with database.read_session() as session:
        tenant = await repository.tenant_by_slug(session, "core-seq")
        user = await repository.user_by_email(session, "head@core.example")
        assert tenant is not None
        assert user is not None
        membership = await repository.membership(session, tenant.id, user.id)
    assert membership is not None
    assert membership.role == Role.ADMIN.value
    assert password not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")


def test_admin_create_refuses_a_weak_password(tmp_path: Path, database_url: str) -> None:
    result = _run(
        tmp_path,
        database_url,
        "admin",
        "create",
        "--email",
        "a@b.example",
        "--tenant",
        "x",
        "--password-stdin",
        stdin="short\n",
    )
    assert result.returncode == 1
    assert "at least 12 characters" in result.stderr


async def test_admin_create_adds_an_existing_account_to_a_facility_without_asking_for_a_password(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    from seqtrack.identity import repository

    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    async with database.read_session() as session:
        before = await repository.user_by_email(session, member.email)
        assert before is not None
        hash_before = before.password_hash

    # No --password-stdin and nothing to read: a prompt would abort the command.
    result = _run(
        tmp_path,
        database_url,
        "admin",
        "create",
        "--email",
        member.email,
        "--tenant",
        "second-site",
        secret_key=database.settings.signing_key(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Password" not in result.stdout
    assert "password unchanged" in result.stdout

    async with database.read_session() as session:
        tenant = await repository.tenant_by_slug(session, "second-site")
        user = await repository.user_by_email(session, member.email)
        assert tenant is not None
        assert user is not None
        membership = await repository.membership(session, tenant.id, user.id)
    assert membership is not None
    assert membership.role == Role.ADMIN.value
    assert user.password_hash == hash_before
