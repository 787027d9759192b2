"""A submission's commit holds storage positions for its tubes; a failed commit gives them back."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.storage.rules import Zone
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, new_sample
from tests.fixtures.storage import make_freezer

SUBMISSIONS = "/api/v1/submissions"
HEADER = "Sample Name,Sample Type,Conc. (ng/µL),Tube Barcode,Billing Code,Notes\r\n"


async def _preview(client: httpx.AsyncClient, rows: str) -> dict[str, object]:
    response = await client.post(
        SUBMISSIONS, files={"file": ("samples.csv", (HEADER + rows).encode(), "application/octet-stream")}
    )
    assert response.status_code == 201, response.text
    preview: dict[str, object] = response.json()
    assert preview["state"] == "validated", preview
    return preview


async def _reserved(client: httpx.AsyncClient, box: object) -> list[str]:
    cells = (await client.get(f"/api/v1/storage/boxes/{box}/grid")).json()["cells"]
    return [cell["position"] for cell in cells if cell["state"] == "reserved"]


async def test_a_committed_submission_holds_a_position_per_tube_in_the_minus_80_zone(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor(role=Role.MANAGER)
    act_as(app, actor)
    fridge = await make_freezer(database, actor, zone=Zone.FRIDGE, name="Fridge B")
    freezer = await make_freezer(database, actor, name="Freezer −80")
    preview = await _preview(client, "S-1,HMW DNA,50,T-1,,\r\nS-2,total RNA,40,T-2,,\r\nS-3,HMW DNA,50,T-3,,\r\n")
    committed = await client.post(f"{SUBMISSIONS}/{preview['id']}/commit")
    assert committed.status_code == 200, committed.text
    assert await _reserved(client, freezer.box_ids[0]) == ["A1", "A2", "A3"]
    assert await _reserved(client, fridge.box_ids[0]) == []


async def test_a_failed_commit_releases_the_positions_it_reserved(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor(role=Role.MANAGER)
    act_as(app, actor)
    freezer = await make_freezer(database, actor)
    preview = await _preview(client, "S-1,HMW DNA,50,T-1,,\r\nS-2,HMW DNA,50,T-2,,\r\n")
    # The barcode is taken after the preview: creating the samples fails and the saga compensates.
    await new_sample(database, actor, barcode="T-2")
    refused = await client.post(f"{SUBMISSIONS}/{preview['id']}/commit")
    assert refused.status_code >= 400, refused.text
    assert await _reserved(client, freezer.box_ids[0]) == []
    free = (await client.get("/api/v1/storage/free-positions", params={"count": 2})).json()["items"]
    assert [item["position"] for item in free] == ["A1", "A2"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_facility_without_storage_still_commits_its_submissions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor(role=Role.MANAGER))
    preview = await _preview(client, "S-1,HMW DNA,50,T-1,,\r\n")
    committed = await client.post(f"{SUBMISSIONS}/{preview['id']}/commit")
    assert committed.status_code == 200, committed.text
    assert committed.json()["samples_created"] == 1
