"""Personal data at rest: e-mails stored encrypted, log-in by e-mail still works, keys rotate resumably."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from seqtrack.app import create_app
from seqtrack.identity.models import User
from seqtrack.operations import backup, keys
from seqtrack.platform import crypto
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.http import asgi_client
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.processes import REPO, base_env


def _key_file(path: Path, active: str, key_ids: list[str], index_key: str) -> Path:
    path.write_text(
        json.dumps({"active": active, "keys": {key_id: KEYS[key_id] for key_id in key_ids}, "index_key": index_key})
    )
    return path


KEYS = {"k1": crypto.new_key(), "k2": crypto.new_key()}
INDEX_KEY = crypto.new_key()


async def _raw_values(database: Database, table: str, column: str) -> list[str]:
    async with database.read_session() as session:
        return [row[0] for row in (await session.execute(select(keys._table(table, column).c[column]))).all()]


async def test_users_are_stored_encrypted_and_still_log_in_by_e_mail(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings)
    async with asgi_client(app) as client:
        database: Database = app.state.database
        tenant_id = await make_tenant(database)
        member = await make_member(database, tenant_id, email="Ada.Okafor@Facility.Example")
        stored = await _raw_values(database, "users", "email")
        assert stored
        assert all(crypto.is_token(value) for value in stored)
        assert not any("okafor" in value.lower() for value in stored)

        answer = await client.post(
            "/api/v1/auth/token", json={"email": "  ADA.OKAFOR@facility.example ", "password": member.password}
        )
        assert answer.status_code == 200, answer.text
        assert "access_token" in answer.json()
        wrong = await client.post(
            "/api/v1/auth/token", json={"email": "someone.else@facility.example", "password": member.password}
        )
        assert wrong.status_code == 401

        async with database.read_session() as session:
            user = await session.scalar(select(User).where(User.id == member.user_id))
        assert user is not None
        assert user.email == "ada.okafor@facility.example"


async def test_neither_the_database_nor_its_backup_holds_a_plaintext_address(
    settings: Settings, tmp_path: Path
) -> None:
    address = b"grace.hopper@navy.example"
    app = create_app(settings)
    async with asgi_client(app) as client:
        database: Database = app.state.database
        tenant_id = await make_tenant(database)
        member = await make_member(database, tenant_id, email=address.decode())
        # A log-in, a failed one, an unknown address, and notification preferences: all leave records.
        for password in (member.password, "not-the-password"):
            await client.post("/api/v1/auth/token", json={"email": address.decode(), "password": password})
        await client.post("/api/v1/auth/token", json={"email": "ada.lovelace@engine.example", "password": "x" * 12})
        token = (
            await client.post("/api/v1/auth/token", json={"email": address.decode(), "password": member.password})
        ).json()["access_token"]
        answer = await client.put(
            "/api/v1/notifications/preferences",
            json={"email": "grace.hopper@navy.example", "event_types": ["sample.created"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["email"] == "grace.hopper@navy.example"
        manifest = await backup.take_backup(settings, tmp_path / "backup")
    raw = await _everything_stored(settings, tmp_path / "backup" / manifest.database)
    assert b"navy.example" in raw  # the masked form: the domain, for recognising an account
    assert address not in raw
    assert b"ada.lovelace@engine.example" not in raw


async def _everything_stored(settings: Settings, dump: Path) -> bytes:
    """Every byte a thief of the database files or the backup would read."""
    if settings.is_sqlite:
        database_file = Path(str(settings.database_dsn).split("///", 1)[1])
        live = b"".join(path.read_bytes() for path in database_file.parent.glob(database_file.name + "*"))
        return live + dump.read_bytes()
    result = await asyncio.to_thread(
        subprocess.run, ["pg_restore", "--file=-", str(dump)], capture_output=True, timeout=60, check=True
    )
    return bytes(result.stdout)


async def test_rotation_killed_mid_way_leaves_every_row_readable_and_resumes(
    settings: Settings, tmp_path: Path
) -> None:
    old = settings.model_copy(update={"pii_keys_file": _key_file(tmp_path / "k1.json", "k1", ["k1"], INDEX_KEY)})
    database = Database(old)
    tenant_id = await make_tenant(database)
    emails = sorted(f"person{number}@lab.example" for number in range(12))
    members = [await make_member(database, tenant_id, email=email) for email in emails]
    await database.dispose()

    new_keys = _key_file(tmp_path / "k2.json", "k2", ["k1", "k2"], INDEX_KEY)
    new = settings.model_copy(update={"pii_keys_file": new_keys})
    env = base_env(
        database_url=settings.database_dsn,
        data_dir=str(settings.data_dir),
        pii_keys_file=str(new_keys),
        secret_key=settings.signing_key(),
    )
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "seqtrack", "keys", "rotate", "--batch-size", "2", "--pause-seconds", "0.5"],
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    first = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    assert "re-encrypted" in first, first
    process.send_signal(signal.SIGKILL)
    await process.wait()

    database = Database(new)
    try:
        usage = (await keys.key_usage(database))["users.email"]
        assert usage["k1"] > 0, usage
        assert usage["k2"] > 0, usage
        async with database.read_session() as session:
            readable = sorted((await session.scalars(select(User.email))).all())
        assert readable == emails

        finished = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "seqtrack", "keys", "rotate"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert finished.returncode == 0, finished.stderr
        assert "every personal value is under key k2" in finished.stdout
        assert (await keys.key_usage(database))["users.email"] == {"k2": len(emails)}
    finally:
        await database.dispose()

    # Log-in by e-mail works under the new key.
    app = create_app(new)
    async with asgi_client(app) as client:
        answer = await client.post("/api/v1/auth/token", json={"email": emails[3], "password": members[3].password})
        assert answer.status_code == 200, answer.text


def test_a_key_set_without_its_active_key_is_refused(tmp_path: Path) -> None:
    from tests.fixtures.database import make_settings

    broken = tmp_path / "keys.json"
    broken.write_text(json.dumps({"active": "k9", "keys": {"k1": KEYS["k1"]}}))
    with pytest.raises(crypto.KeysInvalid, match="active key 'k9'"):
        crypto.keyring_for(make_settings(tmp_path, pii_keys_file=broken))
