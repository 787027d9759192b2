"""Runs: planning onto a flow cell and position, starting and ending, and what that does to the samples."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
from sqlalchemy import select

from seqtrack.audit.models import AuditEntry
from seqtrack.platform.database import Database
from tests.fixtures.identity import Member
from tests.fixtures.sequencing import (
    SAMPLES,
    SEQ,
    checked_flow_cell,
    gridion,
    ok,
    planned_run,
    samples_in_library_prep,
    start,
    two_barcode_pool,
)


async def test_the_sample_sheet_of_a_planned_run_parses_back_to_its_samples_and_barcodes(
    client: httpx.AsyncClient, technician: Member
) -> None:
    samples = await samples_in_library_prep(client, technician.password, 3)
    run = await planned_run(
        client, await gridion(client), await checked_flow_cell(client), await two_barcode_pool(client, samples)
    )

    response = await client.get(f"{SEQ}/runs/{run['id']}/sample-sheet.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="RUN-2026-11-28-X3_sample_sheet.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["flow_cell_id", "kit", "experiment_id", "sample_id", "alias", "barcode"]
    assert {(row["flow_cell_id"], row["kit"], row["experiment_id"], row["sample_id"]) for row in rows} == {
        ("FAX12345", "SQK-NBD114-24", "RUN-2026-11-28-X3", "POOL-NOV-01")
    }
    libraries = {
        library["name"]: library for library in ok(await client.get(f"{SEQ}/pools/{run['pool']['id']}"))["libraries"]
    }
    by_alias = {row["alias"]: row["barcode"] for row in rows}
    # A one-sample library is aliased by its sample; a shared library by its own name.
    samples_back = {
        barcode: (
            [alias] if alias.startswith("SEQ-") else [sample["human_id"] for sample in libraries[alias]["samples"]]
        )
        for alias, barcode in by_alias.items()
    }
    assert samples_back == {
        "barcode01": [samples[0]["human_id"]],
        "barcode02": sorted([samples[1]["human_id"], samples[2]["human_id"]]),
    }


async def test_starting_a_run_releases_its_samples_to_sequencing_and_loads_the_flow_cell(
    client: httpx.AsyncClient, technician: Member, database: Database
) -> None:
    samples = await samples_in_library_prep(client, technician.password, 3)
    cell = await checked_flow_cell(client)
    run = await planned_run(client, await gridion(client), cell, await two_barcode_pool(client, samples))

    unsigned = await client.post(f"{SEQ}/runs/{run['id']}/transitions", json={"to": "running"})
    assert unsigned.status_code == 422
    assert unsigned.json()["code"] == "sample.signature_required"
    assert ok(await client.get(f"{SEQ}/runs/{run['id']}"))["state"] == "planned"
    assert ok(await client.get(f"{SAMPLES}/{samples[0]['id']}"))["status"] == "library_prep"

    running = await start(client, run, technician.password)

    assert running["state"] == "running"
    assert running["started_at"] is not None
    for sample in samples:
        assert ok(await client.get(f"{SAMPLES}/{sample['id']}"))["status"] == "sequencing"
        steps = {step["name"]: step["status"] for step in ok(await client.get(f"{SAMPLES}/{sample['id']}/steps"))}
        assert (steps["Sequencing Setup"], steps["Sequencing Run"]) == ("completed", "in_progress")
    loaded = ok(await client.get(f"{SEQ}/flow-cells/{cell['id']}"))
    assert (loaded["state"], loaded["runs_started"]) == ("in_use", 1)
    instrument = ok(await client.get(f"{SEQ}/instruments/{run['instrument']['id']}"))
    busy = {position["name"]: position["running_experiment_id"] for position in instrument["positions"]}
    assert busy["X3"] == "RUN-2026-11-28-X3"
    async with database.read_session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_id == uuid.UUID(run["id"]), AuditEntry.action == "run.state_changed"
            )
        )
    assert entry is not None
    assert entry.changes["state"] == ["planned", "running"]
    assert entry.actor_id == technician.user_id


async def test_ending_a_run_finishes_or_fails_the_samples_sequencing_step(
    client: httpx.AsyncClient, technician: Member
) -> None:
    samples = await samples_in_library_prep(client, technician.password, 3)
    run = await planned_run(
        client, await gridion(client), await checked_flow_cell(client), await two_barcode_pool(client, samples)
    )
    await start(client, run, technician.password)

    no_reason = await client.post(f"{SEQ}/runs/{run['id']}/transitions", json={"to": "failed"})
    assert no_reason.status_code == 422
    failed = ok(
        await client.post(
            f"{SEQ}/runs/{run['id']}/transitions", json={"to": "failed", "reason": "pore occupancy fell to 10%"}
        )
    )
    assert (failed["state"], failed["state_reason"]) == ("failed", "pore occupancy fell to 10%")
    steps = {step["name"]: step["status"] for step in ok(await client.get(f"{SAMPLES}/{samples[0]['id']}/steps"))}
    assert steps["Sequencing Run"] == "failed"
    again = await client.post(f"{SEQ}/runs/{run['id']}/transitions", json={"to": "running"})
    assert again.status_code == 409
    assert again.json()["allowed"] == []


async def test_a_run_is_refused_on_a_flow_cell_that_is_not_checked_or_an_instrument_that_does_not_take_it(
    client: httpx.AsyncClient, technician: Member
) -> None:
    samples = await samples_in_library_prep(client, technician.password, 3)
    pool = await two_barcode_pool(client, samples)
    grid = await gridion(client)
    unchecked = ok(
        await client.post(f"{SEQ}/flow-cells", json={"serial": "FAX99999", "product_code": "FLO-MIN114"}), 201
    )
    promethion_cell = await checked_flow_cell(client, "PAW12345", "FLO-PRO114M", pores=7200)
    body = {"experiment_id": "RUN-X", "instrument_id": grid["id"], "position": "X1", "pool_id": pool["id"]}

    for cell, expected in ((unchecked, "FAX99999 is in_stock"), (promethion_cell, "GridION does not take FLO-PRO114M")):
        response = await client.post(f"{SEQ}/runs", json={**body, "flow_cell_id": cell["id"]})
        assert response.status_code == 422
        assert expected in response.json()["detail"]
    bad_position = await client.post(f"{SEQ}/runs", json={**body, "position": "X9", "flow_cell_id": unchecked["id"]})
    assert bad_position.json()["errors"][0]["field"] == "position"
    assert ok(await client.get(f"{SEQ}/runs"))["items"] == []


async def test_a_washed_flow_cell_refuses_a_pool_reusing_a_barcode_it_has_already_carried(
    client: httpx.AsyncClient, technician: Member
) -> None:
    samples = await samples_in_library_prep(client, technician.password, 4)
    grid = await gridion(client)
    cell = await checked_flow_cell(client)
    first = await planned_run(client, grid, cell, await two_barcode_pool(client, samples[:3]))
    await start(client, first, technician.password)
    ok(await client.post(f"{SEQ}/runs/{first['id']}/transitions", json={"to": "completed"}))
    ok(
        await client.post(
            f"{SEQ}/flow-cells/{cell['id']}/transitions", json={"to": "washed", "reason": "wash kit EXP-WSH004"}
        )
    )
    reuse = ok(
        await client.post(
            f"{SEQ}/pools",
            json={
                "name": "POOL-2",
                "libraries": [
                    {"name": "LIB-4", "kit": "SQK-NBD114.24", "barcode": "NB02", "sample_ids": [samples[3]["id"]]}
                ],
            },
        ),
        201,
    )
    response = await client.post(
        f"{SEQ}/runs",
        json={
            "experiment_id": "RUN-2",
            "instrument_id": grid["id"],
            "position": "X3",
            "flow_cell_id": cell["id"],
            "pool_id": reuse["id"],
        },
    )
    assert response.status_code == 422
    (clash,) = response.json()["problems"]
    assert clash["barcode"] == "barcode02"
    assert sorted(library["name"] for library in clash["libraries"]) == ["LIB-4", "LIB-ISO-0203"]


async def test_an_unbarcoded_run_has_a_sample_sheet_without_barcode_columns(
    client: httpx.AsyncClient, technician: Member
) -> None:
    (sample,) = await samples_in_library_prep(client, technician.password, 1)
    pool = ok(
        await client.post(
            f"{SEQ}/pools",
            json={
                "name": "POOL-HMW",
                "libraries": [{"name": "LIB-HMW", "kit": "SQK-LSK114", "sample_ids": [sample["id"]]}],
            },
        ),
        201,
    )
    run = await planned_run(client, await gridion(client), await checked_flow_cell(client), pool)
    sheet = (await client.get(f"{SEQ}/runs/{run['id']}/sample-sheet.csv")).text
    assert sheet == "flow_cell_id,kit,experiment_id,sample_id\nFAX12345,SQK-LSK114,RUN-2026-11-28-X3,POOL-HMW\n"


async def test_run_events_reach_the_live_feed(client: httpx.AsyncClient, technician: Member) -> None:
    samples = await samples_in_library_prep(client, technician.password, 3)
    run = await planned_run(
        client, await gridion(client), await checked_flow_cell(client), await two_barcode_pool(client, samples)
    )
    await start(client, run, technician.password)

    feed = await client.get("/api/v1/events/stream", params={"follow": "false"}, headers={"Last-Event-ID": "0"})

    types = [line.removeprefix("event: ") for line in feed.text.splitlines() if line.startswith("event: ")]
    assert "run.planned" in types
    assert "run.state_changed" in types
    assert "flow_cell.state_changed" in types
    assert types.index("run.planned") < types.index("run.state_changed")
