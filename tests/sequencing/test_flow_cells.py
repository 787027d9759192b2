"""Flow cell inventory: stock, platform checks against the warranty pore count, washing and spending."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from seqtrack.audit.models import AuditEntry
from seqtrack.events.models import EventRecord, OutboxMessage
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import Member
from tests.fixtures.samples import act_as
from tests.fixtures.sequencing import SEQ, checked_flow_cell, ok


async def test_a_flow_cell_below_its_warranty_pore_count_is_flagged(
    client: httpx.AsyncClient, technician: Member
) -> None:
    low = await checked_flow_cell(client, "FAX00001", "FLO-MIN114", pores=650)
    good = await checked_flow_cell(client, "FAX00002", "FLO-MIN114", pores=1480)
    flongle = await checked_flow_cell(client, "AXQ00003", "FLO-FLG114", pores=42)

    assert (low["state"], low["pore_count"], low["warranty_pores"], low["below_warranty"]) == (
        "checked",
        650,
        800,
        True,
    )
    assert good["below_warranty"] is False
    assert (flongle["warranty_pores"], flongle["below_warranty"]) == (50, True)
    flagged = ok(await client.get(f"{SEQ}/flow-cells", params={"below_warranty": "true"}))["items"]
    assert sorted(cell["serial"] for cell in flagged) == ["AXQ00003", "FAX00001"]


async def test_a_facility_sets_its_own_warranty_count_per_flow_cell_type(
    client: httpx.AsyncClient, technician: Member
) -> None:
    cell = await checked_flow_cell(client, "FAX00001", "FLO-MIN114", pores=650)
    settings = await client.get(f"{SEQ}/settings")
    assert ok(settings)["warranty_pores"]["FLO-PRO114M"] == 5000

    changed = await client.patch(
        f"{SEQ}/settings", json={"warranty_pores": {"FLO-MIN114": 600}}, headers={"If-Match": settings.headers["ETag"]}
    )
    assert ok(changed)["warranty_pores"]["FLO-MIN114"] == 600
    now = ok(await client.get(f"{SEQ}/flow-cells/{cell['id']}"))
    assert (now["warranty_pores"], now["below_warranty"]) == (600, False)

    stale = await client.patch(
        f"{SEQ}/settings", json={"warranty_pores": {"FLO-MIN114": 700}}, headers={"If-Match": settings.headers["ETag"]}
    )
    assert stale.status_code == 412


async def test_an_unknown_product_code_is_refused_naming_the_field(
    client: httpx.AsyncClient, technician: Member
) -> None:
    response = await client.post(f"{SEQ}/flow-cells", json={"serial": "FAX1", "product_code": "FLO-XYZ999"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["product_code"]
    assert ok(await client.get(f"{SEQ}/flow-cells"))["items"] == []


async def test_a_serial_already_in_stock_is_refused(client: httpx.AsyncClient, technician: Member) -> None:
    await checked_flow_cell(client, "FAX00001")
    again = await client.post(f"{SEQ}/flow-cells", json={"serial": "fax00001", "product_code": "FLO-MIN114"})
    assert again.status_code == 409
    assert again.json()["code"] == "sequencing.name_taken"


async def test_a_spent_flow_cell_cannot_be_checked_again_and_says_what_is_allowed(
    client: httpx.AsyncClient, technician: Member, database: Database
) -> None:
    cell = await checked_flow_cell(client, "FAX00001")
    spent = ok(
        await client.post(f"{SEQ}/flow-cells/{cell['id']}/transitions", json={"to": "spent", "reason": "no pores left"})
    )
    assert spent["state"] == "spent"
    again = await client.post(f"{SEQ}/flow-cells/{cell['id']}/check", json={"pore_count": 900})
    assert again.status_code == 409
    assert again.json()["allowed"] == []
    async with database.read_session() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity_id == uuid.UUID(cell["id"]))
                .order_by(AuditEntry.occurred_at)
            )
        )
        published = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .join(EventRecord, EventRecord.id == OutboxMessage.event_id)
            .where(EventRecord.aggregate_id == uuid.UUID(cell["id"]))
        )
    assert actions == ["flow_cell.received", "flow_cell.checked", "flow_cell.state_changed"]
    assert published == 3


async def test_another_facility_cannot_see_a_flow_cell(
    client: httpx.AsyncClient, technician: Member, app: FastAPI
) -> None:
    cell = await checked_flow_cell(client, "FAX00001")
    act_as(app, staff_actor())
    assert (await client.get(f"{SEQ}/flow-cells/{cell['id']}")).status_code == 404
    assert ok(await client.get(f"{SEQ}/flow-cells"))["items"] == []
