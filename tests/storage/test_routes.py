"""The storage API as a technician's scanner and the facility's dashboards use it."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from seqtrack.storage.rules import Zone
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, new_sample
from tests.fixtures.storage import make_freezer

API = "/api/v1/storage"


async def test_fifty_concurrent_placements_into_ten_free_positions_give_ten_successes_and_forty_409s(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=1, columns=10)
    tubes = [await new_sample(database, actor, name=f"T{n}") for n in range(50)]
    positions = [f"A{n % 10 + 1}" for n in range(50)]
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/placements",
                json={"sample_id": str(tube.id), "container_id": str(freezer.box_ids[0]), "position": position},
            )
            for tube, position in zip(tubes, positions, strict=True)
        )
    )
    statuses = [response.status_code for response in responses]
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 40, statuses
    assert all(r.json()["code"] == "storage.position_occupied" for r in responses if r.status_code == 409)
    async with database.read_session() as session:
        per_position = (
            await session.execute(
                text("SELECT position, count(*) FROM storage_placements GROUP BY position ORDER BY position")
            )
        ).all()
    assert len(per_position) == 10
    assert {count for _position, count in per_position} == {1}
    grid = (await client.get(f"{API}/boxes/{freezer.box_ids[0]}/grid")).json()
    assert grid["counts"]["occupied"] == 10
    assert grid["counts"]["free"] == 0


async def test_the_grid_shows_each_position_with_its_occupant(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=8, columns=12)
    tube = await new_sample(database, actor, barcode="FX-00012", name="Ecoli-K12-07")
    placed = await client.post(
        f"{API}/placements",
        json={"sample_id": str(tube.id), "container_id": str(freezer.box_ids[0]), "position": "H12"},
    )
    assert placed.status_code == 201, placed.text
    grid = (await client.get(f"{API}/boxes/{freezer.box_ids[0]}/grid")).json()
    assert len(grid["cells"]) == 96
    last = grid["cells"][-1]
    assert (last["position"], last["state"], last["sample"]["barcode"]) == ("H12", "occupied", "FX-00012")
    assert last["code"] == f"{freezer.box_codes[0]}-H12"
    assert grid["container"]["path"] == "Freezer A (−80 °C) › Rack 1 › Box 1"
    assert grid["counts"] == {
        "capacity": 96,
        "occupied": 1,
        "checked_out": 0,
        "reserved": 0,
        "free": 95,
        "utilisation": round(1 / 96, 4),
    }


async def test_a_bad_position_is_a_problem_naming_the_field_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=9, columns=9)
    tube = await new_sample(database, actor)
    response = await client.post(
        f"{API}/placements",
        json={"sample_id": str(tube.id), "container_id": str(freezer.box_ids[0]), "position": "Z99"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "position"
    where = (await client.get(f"{API}/where", params={"q": tube.human_id})).json()
    assert where["items"][0]["placement"] is None


async def test_where_is_finds_a_sample_by_id_barcode_or_name(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor)
    tube = await new_sample(database, actor, barcode="FX-77", name="Maize leaf 3")
    await client.post(
        f"{API}/placements", json={"sample_id": str(tube.id), "container_id": str(freezer.box_ids[0]), "position": "C7"}
    )
    for query in (tube.human_id, "FX-77", "leaf 3"):
        items = (await client.get(f"{API}/where", params={"q": query})).json()["items"]
        assert [item["placement"]["location"]["path"] for item in items] == ["Freezer A (−80 °C) › Rack 1 › Box 1 › C7"]


async def test_scan_resolves_a_sample_barcode_a_box_code_and_a_position_code(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor)
    tube = await new_sample(database, actor, barcode="FX-9001")
    await client.post(
        f"{API}/placements", json={"sample_id": str(tube.id), "container_id": str(freezer.box_ids[0]), "position": "B2"}
    )
    sample = (await client.get("/api/v1/scan/FX-9001")).json()
    assert (sample["kind"], sample["sample"]["id"], sample["placement"]["location"]["position"]) == (
        "sample",
        str(tube.id),
        "B2",
    )
    box = (await client.get(f"/api/v1/scan/{freezer.box_codes[0]}")).json()
    assert (box["kind"], box["container"]["id"]) == ("container", str(freezer.box_ids[0]))
    cell = (await client.get(f"/api/v1/scan/{freezer.box_codes[0]}-B2")).json()
    assert (cell["kind"], cell["position"], cell["cell"]["sample"]["barcode"]) == ("position", "B2", "FX-9001")
    unknown = await client.get("/api/v1/scan/NOPE-1")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "storage.code_not_found"


async def test_zone_utilisation_in_metrics_matches_a_count_made_in_the_database(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, boxes=2, rows=5, columns=5)
    fridge = await make_freezer(database, actor, zone=Zone.FRIDGE, name="Fridge B")
    tubes = [await new_sample(database, actor) for _ in range(7)]
    filled = await client.post(
        f"{API}/boxes/{freezer.box_ids[1]}/fill", json={"sample_ids": [str(tube.id) for tube in tubes[:6]]}
    )
    assert filled.status_code == 201, filled.text
    await client.post(
        f"{API}/placements",
        json={"sample_id": str(tubes[6].id), "container_id": str(fridge.box_ids[0]), "position": "A1"},
    )
    held = await client.post(f"{API}/reservations", json={"reference": "SUB-1", "count": 3, "zone": "minus_80"})
    assert held.status_code == 201, held.text

    scraped = {
        (sample.name, sample.labels.get("zone"), sample.labels.get("use")): sample.value
        for family in text_string_to_metric_families((await client.get("/metrics")).text)
        for sample in family.samples
        if sample.labels.get("tenant") == str(actor.tenant_id)
    }
    async with database.read_session() as session:
        direct = (
            await session.execute(
                text(
                    "SELECT u.zone,"
                    " (SELECT sum(c.rows * c.columns) FROM storage_containers c"
                    "   JOIN storage_units v ON v.id = c.unit_id"
                    "   WHERE v.zone = u.zone AND v.tenant_id = u.tenant_id AND c.rows IS NOT NULL),"
                    " (SELECT count(*) FROM storage_placements p JOIN storage_containers c ON c.id = p.container_id"
                    "   JOIN storage_units v ON v.id = c.unit_id WHERE v.zone = u.zone AND v.tenant_id = u.tenant_id)"
                    " FROM storage_units u WHERE u.id IN (:freezer, :fridge) GROUP BY u.zone, u.tenant_id"
                ),
                {"freezer": _db_id(database, freezer.unit_id), "fridge": _db_id(database, fridge.unit_id)},
            )
        ).all()
    assert {zone for zone, _, _ in direct} == {"minus_80", "plus_4"}
    for zone, capacity, used in direct:
        assert scraped[("seqtrack_storage_utilisation_ratio", zone, None)] == used / capacity
        assert scraped[("seqtrack_storage_positions", zone, "used")] == used
        assert scraped[("seqtrack_storage_positions", zone, "capacity")] == capacity
    minus_80 = next(row for row in direct if row[0] == "minus_80")
    assert (minus_80[1], minus_80[2]) == (50, 9)
    zones = {zone["zone"]: zone for zone in (await client.get(f"{API}/capacity")).json()["zones"]}
    assert zones["minus_80"]["used"] == 9


async def test_crossing_the_warning_level_emits_one_capacity_event(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=1, columns=10)
    tubes = [await new_sample(database, actor) for _ in range(10)]
    for tube in tubes[:7]:
        await client.post(f"{API}/boxes/{freezer.box_ids[0]}/fill", json={"sample_ids": [str(tube.id)]})
    async with database.read_session() as session:
        assert not (await session.execute(text("SELECT 1 FROM events WHERE type LIKE 'storage.capacity%'"))).all()
    await client.post(f"{API}/boxes/{freezer.box_ids[0]}/fill", json={"sample_ids": [str(tubes[7].id)]})
    await client.post(f"{API}/boxes/{freezer.box_ids[0]}/fill", json={"sample_ids": [str(tubes[8].id)]})
    await client.post(f"{API}/boxes/{freezer.box_ids[0]}/fill", json={"sample_ids": [str(tubes[9].id)]})
    async with database.read_session() as session:
        kinds = [
            row[0]
            for row in (
                await session.execute(
                    text("SELECT type FROM events WHERE type LIKE 'storage.capacity%' ORDER BY position")
                )
            ).all()
        ]
    assert kinds == ["storage.capacity_warning", "storage.capacity_critical"]


async def test_a_box_of_another_facility_does_not_exist(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = staff_actor()
    freezer = await make_freezer(database, owner)
    act_as(app, staff_actor())
    assert (await client.get(f"{API}/boxes/{freezer.box_ids[0]}/grid")).status_code == 404
    assert (await client.get(f"/api/v1/scan/{freezer.box_codes[0]}")).status_code == 404
    assert (await client.get(f"{API}/units")).json()["items"] == []
    assert uuid.UUID(str(freezer.unit_id))


def _db_id(database: Database, value: uuid.UUID) -> object:
    # SQLAlchemy stores a UUID in SQLite as 32 hex digits; a raw query must compare the same form.
    return value.hex if database.is_sqlite else value


async def test_a_placement_sent_again_with_its_idempotency_key_answers_the_first_placement(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=1, columns=2)
    tube = await new_sample(database, actor, name="Retried")
    body = {"sample_id": str(tube.id), "container_id": str(freezer.box_ids[0]), "position": "A1"}
    key = {"Idempotency-Key": f"scan-{uuid.uuid4()}"}
    first = await client.post(f"{API}/placements", json=body, headers=key)
    again = await client.post(f"{API}/placements", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    grid = (await client.get(f"{API}/boxes/{freezer.box_ids[0]}/grid")).json()
    assert grid["counts"]["occupied"] == 1


async def test_storage_rules_change_only_with_the_etag_read_and_only_for_those_allowed_to_configure(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    manager = staff_actor(role=Role.MANAGER)
    act_as(app, manager)
    read = await client.get(f"{API}/settings")
    assert read.status_code == 200
    changed = await client.patch(
        f"{API}/settings", json={"warning_ratio": 0.7}, headers={"If-Match": read.headers["ETag"]}
    )
    assert changed.status_code == 200
    assert changed.json()["warning_ratio"] == 0.7
    assert changed.headers["ETag"] != read.headers["ETag"]
    assert (await client.get(f"{API}/settings")).headers["ETag"] == changed.headers["ETag"]
    stale = await client.patch(
        f"{API}/settings", json={"warning_ratio": 0.6}, headers={"If-Match": read.headers["ETag"]}
    )
    assert stale.status_code == 412

    act_as(app, staff_actor(manager.tenant_id, role=Role.TECHNICIAN))
    assert (await client.get(f"{API}/settings")).json()["warning_ratio"] == 0.7
    refused = await client.patch(
        f"{API}/settings", json={"warning_ratio": 0.5}, headers={"If-Match": changed.headers["ETag"]}
    )
    assert refused.status_code == 403
