"""The column mapping shown and changed: the rows are read again from the stored file under a person's choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from seqtrack.app import create_app
from seqtrack.audit.models import AuditEntry
from seqtrack.events.models import EventRecord
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings
from tests.fixtures.http import asgi_client
from tests.fixtures.samples import act_as
from tests.intake.support import API, count_samples, problem, upload
from tests.jobs.support import FAST, eventually

# "Tube" reads as the tube's barcode, but this lab writes the kind of tube there; its barcodes are under "Label".
SHEET = "Sample Name,Sample Type,Conc. (ng/µL),Tube,Label,Remarks\r\n" + "".join(
    f"MAP-{number},HMW DNA,{40 + number},screw cap,TB-MAP-{number},ok\r\n" for number in range(1, 6)
)


def _field(body: dict[str, Any], column: str) -> str | None:
    found: str | None = next(entry["field"] for entry in body["mapping"] if entry["column"] == column)
    return found


async def _uploaded(client: httpx.AsyncClient) -> httpx.Response:
    response = await upload(client, SHEET.encode(), "unmapped.csv")
    assert response.status_code == 201, response.text
    return response


async def test_mapping_a_column_to_another_field_reads_every_row_again_and_records_who(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    act_as(app, staff_actor())
    first = await _uploaded(client)
    before = first.json()
    assert _field(before, "Tube") == "barcode"
    assert _field(before, "Label") is None
    # Every row after the first repeats the "barcode" of row 1.
    assert before["error_count"] == 4
    assert before["state"] == "draft"

    changed = await client.patch(
        f"{API}/{before['id']}/mapping",
        json={"columns": {"Tube": None, "Label": "barcode", "Remarks": None}},
        headers={"If-Match": first.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert _field(after, "Label") == "barcode"
    assert _field(after, "Tube") is None
    assert _field(after, "Remarks") is None
    assert after["error_count"] == 0
    assert after["state"] == "validated"
    assert [row["values"]["barcode"] for row in after["rows"]] == [f"TB-MAP-{number}" for number in range(1, 6)]
    assert "notes" not in after["rows"][0]["values"]
    assert changed.headers["ETag"] != first.headers["ETag"]

    async with database.read_session() as session:
        entry = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "submission.mapping_changed"))
        ).one()
        event = (
            await session.scalars(select(EventRecord).where(EventRecord.type == "submission.mapping_changed"))
        ).one()
    assert entry.changes["mapping.Label"] == [None, "barcode"]
    assert entry.changes["mapping.Tube"] == ["barcode", None]
    assert entry.changes["mapping.Remarks"] == ["notes", None]
    assert event.data["columns"] == {"Tube": None, "Label": "barcode", "Remarks": None}

    committed = await client.post(f"{API}/{before['id']}/commit")
    assert committed.status_code == 200, committed.text
    assert await count_samples(database) == 5


async def test_a_field_named_twice_or_unknown_is_refused_naming_the_column_and_nothing_changes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    first = await _uploaded(client)
    submission_id = first.json()["id"]
    etag = {"If-Match": first.headers["ETag"]}

    twice = await client.patch(f"{API}/{submission_id}/mapping", json={"columns": {"Label": "name"}}, headers=etag)
    assert twice.status_code == 422
    body = problem(twice)
    assert body["code"] == "intake.invalid_mapping"
    assert body["errors"] == [
        {"column": "Label", "field": "name", "message": "name is already read from column 'Sample Name'"}
    ]

    unknown = await client.patch(
        f"{API}/{submission_id}/mapping",
        json={"columns": {"Label": "favourite_colour", "Nope": "name"}},
        headers=etag,
    )
    assert unknown.status_code == 422
    assert {(error["column"], error["message"]) for error in problem(unknown)["errors"]} == {
        ("Nope", "no such column in the file"),
        ("Label", "favourite_colour is not a field a column can be read as"),
    }

    after = (await client.get(f"{API}/{submission_id}")).json()
    assert _field(after, "Label") is None
    assert after["error_count"] == 4
    assert (await client.get(f"{API}/{submission_id}")).headers["ETag"] == first.headers["ETag"]


async def test_a_stale_or_missing_etag_changes_no_mapping(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    first = await _uploaded(client)
    submission_id = first.json()["id"]
    change = {"columns": {"Tube": None, "Label": "barcode"}}
    missing = await client.patch(f"{API}/{submission_id}/mapping", json=change)
    assert missing.status_code == 428
    # Someone corrects a row in between: the mapping read before it is stale.
    corrected = await client.patch(
        f"{API}/{submission_id}/rows/2",
        json={"values": {"sample_type": "cDNA"}},
        headers={"If-Match": first.headers["ETag"]},
    )
    assert corrected.status_code == 200, corrected.text
    stale = await client.patch(
        f"{API}/{submission_id}/mapping", json=change, headers={"If-Match": first.headers["ETag"]}
    )
    assert stale.status_code == 412
    assert _field((await client.get(f"{API}/{submission_id}")).json(), "Tube") == "barcode"


async def test_a_closed_submission_or_an_order_keeps_its_mapping(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    first = await _uploaded(client)
    submission_id = first.json()["id"]
    cancelled = await client.post(f"{API}/{submission_id}/cancel")
    closed = await client.patch(
        f"{API}/{submission_id}/mapping",
        json={"columns": {"Tube": None, "Label": "barcode"}},
        headers={"If-Match": cancelled.headers["ETag"]},
    )
    assert closed.status_code == 409
    assert problem(closed)["code"] == "intake.closed"

    order = await client.post(f"{API}/order", json={"samples": [{"name": "ORD-1", "sample_type": "cDNA"}]})
    assert order.status_code == 201, order.text
    fixed = await client.patch(
        f"{API}/{order.json()['id']}/mapping",
        json={"columns": {"name": None}},
        headers={"If-Match": order.headers["ETag"]},
    )
    assert fixed.status_code == 409
    assert problem(fixed)["code"] == "intake.mapping_fixed"


async def test_a_large_file_is_read_again_in_the_background_under_the_new_mapping(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    settings = make_settings(tmp_path / "big", database_url, intake_background_bytes=128, **FAST)
    app = create_app(settings)
    act_as(app, staff_actor())
    async with asgi_client(app) as client:
        accepted = await upload(client, SHEET.encode(), "unmapped.csv")
        assert accepted.status_code == 202, accepted.text
        submission_id = accepted.json()["id"]

        async def read() -> httpx.Response | None:
            response = await client.get(f"{API}/{submission_id}")
            return response if response.json()["progress"]["phase"] == "done" else None

        first = await eventually(read, within=60, every=0.2)
        assert first.json()["error_count"] == 4
        again = await client.patch(
            f"{API}/{submission_id}/mapping",
            json={"columns": {"Tube": None, "Label": "barcode"}},
            headers={"If-Match": first.headers["ETag"]},
        )
        assert again.status_code == 202, again.text
        assert again.json()["progress"]["phase"] == "queued"
        done = (await eventually(read, within=60, every=0.2)).json()
    assert _field(done, "Label") == "barcode"
    assert done["row_count"] == 5
    assert done["error_count"] == 0
    assert done["state"] == "validated"
