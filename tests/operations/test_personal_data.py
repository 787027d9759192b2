"""Personal data at rest: e-mails stored encrypted, log-in by e-mail still works, keys rotate resumably."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from seqtrack.app import create_app
from seqtrack.identity.models import User
from seqtrack.intake import files
from seqtrack.intake import personal as intake_personal
from seqtrack.operations import backup, keys
from seqtrack.platform import crypto, sealed_files
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.http import asgi_client
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.processes import REPO, base_env
from tests.fixtures.samples import act_as
from tests.intake.support import API, shared_file, upload


def _key_file(path: Path, active: str, key_ids: list[str], index_key: str) -> Path:
    path.write_text(
        json.dumps({"active": active, "keys": {key_id: KEYS[key_id] for key_id in key_ids}, "index_key": index_key})
    )
    return path


KEYS = {"k1": crypto.new_key(), "k2": crypto.new_key()}
INDEX_KEY = crypto.new_key()
# What the facility's example forms say about their submitter.
SUBMITTER_EMAIL = "dana.whitfield@bio.example.edu"
SUBMITTER_PHONE = "+1 919 555 0142"
EXAMPLE_CSV = "nanopore_submission.csv"
EXAMPLE_PDF = "nanopore_submission_form.pdf"


async def _submit(client: httpx.AsyncClient, content: bytes, name: str, *, commit: bool) -> dict[str, Any]:
    response = await upload(client, content, name)
    assert response.status_code == 201, response.text
    preview: dict[str, Any] = response.json()
    if commit:
        committed = await client.post(f"{API}/{preview['id']}/commit")
        assert committed.status_code == 200, committed.text
    return preview


def _with_a_wrong_cell(csv: bytes) -> bytes:
    """The example CSV with one unreadable concentration: its row goes to the error report."""
    return csv.replace(b",126,", b",lots,", 1)


async def _submit_the_examples(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """The example CSV and PDF committed, and the CSV again with an error, left for review."""
    csv = shared_file(EXAMPLE_CSV).read_bytes()
    return {
        "csv": await _submit(client, csv, EXAMPLE_CSV, commit=True),
        "pdf": await _submit(client, shared_file(EXAMPLE_PDF).read_bytes(), EXAMPLE_PDF, commit=True),
        "wrong": await _submit(client, _with_a_wrong_cell(csv), "wrong.csv", commit=False),
    }


def _every_byte_under(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file())


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
        # Submissions: a form's header block, a CSV with the address on every row, the files themselves.
        act_as(app, staff_actor(tenant_id))
        await _submit_the_examples(client)
        manifest = await backup.take_backup(settings, tmp_path / "backup")
    raw = await _everything_stored(settings, tmp_path / "backup" / manifest.database)
    assert b"navy.example" in raw  # the masked form: the domain, for recognising an account
    assert address not in raw
    assert b"ada.lovelace@engine.example" not in raw
    assert manifest.files, "the submitted files are in the backup"
    files_and_backup = _every_byte_under(settings.file_store) + _every_byte_under(tmp_path / "backup")
    for kept in (raw, files_and_backup):
        for personal in (SUBMITTER_EMAIL, SUBMITTER_PHONE, "whitfield@"):
            assert personal.encode() not in kept
    # The plain copies the parsers read are gone once each upload is handled.
    assert list(files.working_dir(settings).iterdir()) == []


async def test_staff_still_read_the_address_in_the_preview_and_the_error_reports(settings: Settings) -> None:
    app = create_app(settings)
    async with asgi_client(app) as client:
        act_as(app, staff_actor(await make_tenant(app.state.database)))
        submitted = await _submit_the_examples(client)

        pdf = (await client.get(f"{API}/{submitted['pdf']['id']}")).json()
        assert pdf["details"]["submitter_email"]["value"] == SUBMITTER_EMAIL
        assert pdf["details"]["submitter_phone"]["value"] == SUBMITTER_PHONE
        assert SUBMITTER_EMAIL in pdf["details"]["submitter_email"]["evidence"]
        csv = (await client.get(f"{API}/{submitted['csv']['id']}")).json()
        assert csv["details"]["submitter_email"]["value"] == SUBMITTER_EMAIL
        assert {row["cells"][1] for row in csv["rows"]} == {SUBMITTER_EMAIL}

        wrong = submitted["wrong"]["id"]
        report = (await client.get(f"{API}/{wrong}/errors.csv")).content.decode("utf-8-sig")
        assert report.splitlines()[1].startswith(f"2,Dana Whitfield,{SUBMITTER_EMAIL},")
        workbook = load_workbook(io.BytesIO((await client.get(f"{API}/{wrong}/errors.xlsx")).content))
        assert [cell.value for cell in next(workbook.active.iter_rows(min_row=2, max_row=2))][2] == SUBMITTER_EMAIL

        # A correction re-reads the row from its cells: the address stays sealed and readable.
        etag = (await client.get(f"{API}/{wrong}")).headers["ETag"]
        corrected = await client.patch(
            f"{API}/{wrong}/rows/2", json={"values": {"concentration_ng_ul": 126}}, headers={"If-Match": etag}
        )
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["cells"][1] == SUBMITTER_EMAIL
    usage = await keys.key_usage(app.state.database)
    assert "plaintext" not in usage["submission_rows.cells"]
    assert set(usage["files.intake"]) == {app.state.database.keyring.active_id}


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


async def test_a_submitted_value_that_looks_sealed_is_kept_as_written(settings: Settings) -> None:
    lookalike = "pii1:k1:bm90LWEta2V5"
    app = create_app(settings)
    async with asgi_client(app) as client:
        act_as(app, staff_actor(await make_tenant(app.state.database)))
        rows = f"Sample Name,Sample Type,Submitter Email,Notes\r\nS-1,HMW DNA,{lookalike},{lookalike}\r\n"
        preview = await _submit(client, rows.encode(), "lookalike.csv", commit=False)
        listed = await client.get(API)
    assert preview["rows"][0]["cells"][2:] == [lookalike, lookalike]
    assert preview["details"]["submitter_email"]["value"] == lookalike
    assert listed.status_code == 200, listed.text


async def test_rotation_killed_mid_way_leaves_every_row_readable_and_resumes(
    settings: Settings, tmp_path: Path
) -> None:
    old = settings.model_copy(update={"pii_keys_file": _key_file(tmp_path / "k1.json", "k1", ["k1"], INDEX_KEY)})
    app = create_app(old)
    async with asgi_client(app) as client:
        database: Database = app.state.database
        tenant_id = await make_tenant(database)
        emails = sorted(f"person{number}@lab.example" for number in range(12))
        members = [await make_member(database, tenant_id, email=email) for email in emails]
        act_as(app, staff_actor(tenant_id))
        submitted = await _submit_the_examples(client)
        # One submission as a version before sealed rows and files stored it: rotation seals it.
        await _store_as_before_sealing(database, old, submitted["wrong"])
        assert (await keys.key_usage(database))["submission_rows.cells"]["plaintext"] == 24

    new_keys = _key_file(tmp_path / "k2.json", "k2", ["k1", "k2"], INDEX_KEY)
    new = settings.model_copy(update={"pii_keys_file": new_keys})
    env = base_env(
        database_url=settings.database_dsn,
        data_dir=str(settings.data_dir),
        pii_keys_file=str(new_keys),
        secret_key=settings.signing_key(),
    )
    # Killed once among the users, once among the submission rows.
    for killed_in in ("users.email", "submission_rows.cells"):
        await _rotate_until(env, killed_in)
        database = Database(new)
        try:
            usage = (await keys.key_usage(database))[killed_in]
            assert usage["k2"] > 0, usage
            assert set(usage) - {"k2"}, usage
            async with database.read_session() as session:
                readable = sorted((await session.scalars(select(User.email))).all())
            assert readable == emails
        finally:
            await database.dispose()
        await _every_address_reads(new, tenant_id, submitted)

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
    database = Database(new)
    try:
        every_column = await keys.key_usage(database)
    finally:
        await database.dispose()
    assert every_column["users.email"] == {"k2": len(emails)}
    assert every_column["submissions.details"] == {"k2": 3}
    assert every_column["submission_rows.cells"] == {"k2": 48}
    assert every_column["files.intake"] == {"k2": 3}
    await _every_address_reads(new, tenant_id, submitted)

    # Log-in by e-mail works under the new key.
    app = create_app(new)
    async with asgi_client(app) as client:
        answer = await client.post("/api/v1/auth/token", json={"email": emails[3], "password": members[3].password})
        assert answer.status_code == 200, answer.text


async def _rotate_until(env: dict[str, str], column: str) -> None:
    """Run ``seqtrack keys rotate`` slowly and kill -9 it once it has done a batch of ``column``."""
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "seqtrack", "keys", "rotate", "--batch-size", "2", "--pause-seconds", "0.5"],
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        while not (line := (await asyncio.wait_for(process.stdout.readline(), 60)).decode()).startswith(column):
            assert line, f"the rotation ended before it reached {column}"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()


async def _store_as_before_sealing(database: Database, settings: Settings, submission: dict[str, Any]) -> None:
    """The submission's details, rows and file as a version before sealing stored them: the address in clear."""
    rows = intake_personal.STORED_ROWS
    submissions = keys._table("submissions", "details")
    submission_id = uuid.UUID(submission["id"])
    async with database.write_session() as session:
        stored = (
            await session.execute(select(rows.c.id, rows.c.cells).where(rows.c.submission_id == submission_id))
        ).all()
        assert stored
        for row_id, cells in stored:
            await session.execute(
                rows.update()
                .where(rows.c.id == row_id)
                .values(cells=crypto.opened(cells, database.keyring), values={"submitter_email": SUBMITTER_EMAIL})
            )
        await session.execute(
            submissions.update()
            .where(submissions.c.id == submission_id)
            .values(details=json.dumps(submission["details"]))
        )
    path = files.stored_path(settings, submission["file_sha256"])
    path.write_bytes(b"".join(sealed_files.opened_chunks(path, database.keyring)))


async def _every_address_reads(settings: Settings, tenant_id: uuid.UUID, submitted: dict[str, dict[str, Any]]) -> None:
    app = create_app(settings)
    async with asgi_client(app) as client:
        act_as(app, staff_actor(tenant_id))
        for kind in ("csv", "wrong"):
            preview = (await client.get(f"{API}/{submitted[kind]['id']}")).json()
            assert {row["cells"][1] for row in preview["rows"]} == {SUBMITTER_EMAIL}
            assert preview["details"]["submitter_email"]["value"] == SUBMITTER_EMAIL
        for path in files.stored_files(settings):
            assert b"".join(sealed_files.opened_chunks(path, app.state.database.keyring))


def test_a_key_set_without_its_active_key_is_refused(tmp_path: Path) -> None:
    from tests.fixtures.database import make_settings

    broken = tmp_path / "keys.json"
    broken.write_text(json.dumps({"active": "k9", "keys": {"k1": KEYS["k1"]}}))
    with pytest.raises(crypto.KeysInvalid, match="active key 'k9'"):
        crypto.keyring_for(make_settings(tmp_path, pii_keys_file=broken))
