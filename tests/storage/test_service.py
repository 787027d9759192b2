"""Storage use cases on both databases: placing, moving, custody, rules, reservations, check-outs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from seqtrack.audit.models import AuditEntry
from seqtrack.events.models import EventRecord, OutboxMessage
from seqtrack.identity.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.samples import service as samples_service
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.storage import service
from seqtrack.storage.errors import (
    AlreadyStored,
    InvalidStorageInput,
    NotEnoughSpace,
    PositionOccupied,
    ZoneRuleViolated,
)
from seqtrack.storage.models import Placement
from seqtrack.storage.rules import ContainerKind, Zone
from seqtrack.storage.schemas import (
    CheckOutIn,
    ContainerCreate,
    FillIn,
    MoveItem,
    PlacementIn,
    ReservationIn,
    SettingsUpdate,
)
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import new_sample
from tests.fixtures.storage import make_freezer


@pytest.fixture
def actor() -> Actor:
    return staff_actor()


async def _place(database: Database, actor: Actor, sample_id: object, box_id: object, position: str) -> dict[str, Any]:
    async with database.write_session() as session:
        return await service.place(
            session, actor, PlacementIn(sample_id=sample_id, container_id=box_id, position=position)
        )


async def test_placing_writes_the_position_its_custody_event_audit_entry_and_outbox_row_together(
    database: Database, actor: Actor
) -> None:
    freezer = await make_freezer(database, actor)
    tube = await new_sample(database, actor, barcode="TUBE-1")
    placed = await _place(database, actor, tube.id, freezer.box_ids[0], "b03")
    assert placed["location"]["position"] == "B3"
    assert placed["location"]["path"] == "Freezer A (−80 °C) › Rack 1 › Box 1 › B3"
    async with database.read_session() as session:
        event = (await session.scalars(select(EventRecord).where(EventRecord.type == "storage.placed"))).one()
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.event_id == event.id))).one()
        outbox = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.event_id == event.id)
        )
    assert event.aggregate_id == tube.id
    assert audit.changes == {"location": [None, placed["location"]["path"]]}
    assert outbox == 1


async def test_a_taken_position_is_refused_and_the_sample_stays_unplaced(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor)
    first = await new_sample(database, actor)
    second = await new_sample(database, actor)
    await _place(database, actor, first.id, freezer.box_ids[0], "A1")
    with pytest.raises(PositionOccupied):
        await _place(database, actor, second.id, freezer.box_ids[0], "A1")
    async with database.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Placement)) == 1


async def test_a_stored_sample_cannot_be_placed_twice(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor)
    tube = await new_sample(database, actor)
    await _place(database, actor, tube.id, freezer.box_ids[0], "A1")
    with pytest.raises(AlreadyStored, match="move it instead"):
        await _place(database, actor, tube.id, freezer.box_ids[0], "A2")


async def test_a_position_outside_the_grid_is_refused_naming_the_field(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor, rows=9, columns=9)
    tube = await new_sample(database, actor)
    with pytest.raises(InvalidStorageInput) as refused:
        await _place(database, actor, tube.id, freezer.box_ids[0], "J1")
    assert refused.value.extra["errors"][0]["field"] == "position"
    assert "A1 to I9" in refused.value.detail


async def test_three_moves_give_a_chain_of_custody_of_four_places_matching_the_audit_trail(
    database: Database, actor: Actor
) -> None:
    freezer = await make_freezer(database, actor, boxes=2)
    tube = await new_sample(database, actor)
    await _place(database, actor, tube.id, freezer.box_ids[0], "A1")
    other = staff_actor(actor.tenant_id)
    for mover, (box, position, why) in zip(
        [actor, other, actor],
        [
            (freezer.box_ids[0], "C4", "defrost of shelf"),
            (freezer.box_ids[1], "A1", "re-sorted by lab"),
            (freezer.box_ids[1], "J10", "audit"),
        ],
        strict=True,
    ):
        async with database.write_session() as session:
            await service.move(session, mover, [MoveItem(sample_id=tube.id, container_id=box, position=position)], why)
    async with database.read_session() as session:
        chain = await service.custody(session, actor, tube.id)
        audit = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_id == tube.id, AuditEntry.entity_type == "sample_custody")
                .order_by(AuditEntry.sequence)
            )
        )
    places = [entry["to_location"]["path"] for entry in chain["entries"]]
    assert places == [
        "Freezer A (−80 °C) › Rack 1 › Box 1 › A1",
        "Freezer A (−80 °C) › Rack 1 › Box 1 › C4",
        "Freezer A (−80 °C) › Rack 1 › Box 2 › A1",
        "Freezer A (−80 °C) › Rack 1 › Box 2 › J10",
    ]
    assert [entry["reason"] for entry in chain["entries"]] == [None, "defrost of shelf", "re-sorted by lab", "audit"]
    assert [entry["actor_display"] for entry in chain["entries"]][1:] == [actor.display, other.display, actor.display]
    assert [(a.event_id, a.actor_display, a.reason, a.occurred_at) for a in audit] == [
        (e["audit_event_id"], e["actor_display"], e["reason"], e["occurred_at"]) for e in chain["entries"]
    ]
    assert [a.changes["location"][1] for a in audit] == places
    assert chain["current"]["location"]["position"] == "J10"


async def test_two_tubes_swap_places_in_one_bulk_move(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor)
    box = freezer.box_ids[0]
    first, second = await new_sample(database, actor), await new_sample(database, actor)
    await _place(database, actor, first.id, box, "A1")
    await _place(database, actor, second.id, box, "A2")
    async with database.write_session() as session:
        moved = await service.move(
            session,
            actor,
            [
                MoveItem(sample_id=first.id, container_id=box, position="A2"),
                MoveItem(sample_id=second.id, container_id=box, position="A1"),
            ],
            "labels were swapped",
        )
    assert [item["location"]["position"] for item in moved] == ["A2", "A1"]
    async with database.read_session() as session:
        grid = await service.grid(session, actor, box)
    occupants = {cell["position"]: cell["sample"]["id"] for cell in grid["cells"] if cell["sample"]}
    assert occupants == {"A1": second.id, "A2": first.id}


async def test_rna_is_refused_in_a_fridge_with_a_reason_and_the_rule_is_configurable(
    database: Database, actor: Actor
) -> None:
    fridge = await make_freezer(database, actor, zone=Zone.FRIDGE, name="Fridge B")
    rna = await new_sample(database, actor, sample_type="total_rna")
    with pytest.raises(
        ZoneRuleViolated, match="total rna, which this facility keeps at −80 °C or colder; Fridge B is 4 °C"
    ):
        await _place(database, actor, rna.id, fridge.box_ids[0], "A1")
    manager = staff_actor(actor.tenant_id)
    async with database.write_session() as session:
        current = await service.read_settings(session, actor.tenant_id)
        await service.update_settings(
            session, manager, SettingsUpdate(zone_rules={"total_rna": None}), f'"{current.tenant_id}-{current.version}"'
        )
    placed = await _place(database, actor, rna.id, fridge.box_ids[0], "A1")
    assert placed["location"]["zone"] == "plus_4"


async def test_filling_a_box_takes_the_next_free_positions_in_order(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor, rows=2, columns=3)
    box = freezer.box_ids[0]
    blocker = await new_sample(database, actor)
    await _place(database, actor, blocker.id, box, "A2")
    tubes = [await new_sample(database, actor, name=f"T{n}") for n in range(4)]
    async with database.write_session() as session:
        placed = await service.fill_box(session, actor, box, FillIn(sample_ids=[tube.id for tube in tubes]))
    assert [item["location"]["position"] for item in placed] == ["A1", "A3", "B1", "B2"]
    extra = [await new_sample(database, actor) for _ in range(2)]
    with pytest.raises(NotEnoughSpace, match="1 free positions"):
        async with database.write_session() as session:
            await service.fill_box(session, actor, box, FillIn(sample_ids=[tube.id for tube in extra]))


async def test_contiguous_free_positions_skip_a_gap_too_short(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor, rows=1, columns=6)
    box = freezer.box_ids[0]
    await _place(database, actor, (await new_sample(database, actor)).id, box, "A3")
    async with database.read_session() as session:
        loose = await service.free_positions(session, actor, count=3, container_id=box)
        together = await service.free_positions(session, actor, count=3, container_id=box, contiguous=True)
    assert [item["position"] for item in loose] == ["A1", "A2", "A4"]
    assert [item["position"] for item in together] == ["A4", "A5", "A6"]


async def test_a_reservation_holds_positions_until_it_expires(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor, rows=1, columns=3)
    box = freezer.box_ids[0]
    async with database.write_session() as session:
        held = await service.reserve(session, actor, ReservationIn(reference="SUB-42", count=2, zone=Zone.ULTRA_LOW))
    assert [item["position"] for item in held["positions"]] == ["A1", "A2"]
    tube = await new_sample(database, actor)
    with pytest.raises(PositionOccupied, match="is reserved"):
        await _place(database, actor, tube.id, box, "A1")
    async with database.write_session() as session:
        placed = await service.place(
            session, actor, PlacementIn(sample_id=tube.id, container_id=box, position="A1", reservation_id=held["id"])
        )
    assert placed["state"] == "occupied"
    async with database.write_session() as session:
        row = (await session.scalars(select(Placement).where(Placement.position == "A2"))).one()
        row.reserved_until = utcnow() - timedelta(minutes=1)
    late = await new_sample(database, actor)
    assert (await _place(database, actor, late.id, box, "A2"))["location"]["position"] == "A2"


async def test_a_released_reservation_frees_its_positions(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor, rows=1, columns=2)
    async with database.write_session() as session:
        held = await service.reserve(session, actor, ReservationIn(reference="SUB-7", count=2))
    with pytest.raises(NotEnoughSpace):
        async with database.write_session() as session:
            await service.reserve(session, actor, ReservationIn(reference="SUB-8", count=1))
    async with database.write_session() as session:
        await service.release_reservation(session, actor, held["id"], "submission cancelled")
    async with database.read_session() as session:
        grid = await service.grid(session, actor, freezer.box_ids[0])
    assert {cell["state"] for cell in grid["cells"]} == {"free"}


async def test_a_checked_out_sample_keeps_its_position_and_shows_overdue(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor)
    tube = await new_sample(database, actor)
    await _place(database, actor, tube.id, freezer.box_ids[0], "E5")
    async with database.write_session() as session:
        out = await service.check_out(session, actor, CheckOutIn(sample_id=tube.id, reason="aliquot for QC", hours=1))
    assert out["checked_out_by"] == actor.display
    other = await new_sample(database, actor)
    with pytest.raises(PositionOccupied):
        await _place(database, actor, other.id, freezer.box_ids[0], "E5")
    async with database.write_session() as session:
        row = (await session.scalars(select(Placement))).one()
        row.due_back_at = utcnow() - timedelta(minutes=5)
    async with database.read_session() as session:
        late = await service.checkouts(session, actor, overdue=True)
    assert [(item["human_id"], item["overdue"]) for item in late] == [(tube.human_id, True)]
    async with database.write_session() as session:
        back = await service.check_in(session, actor, tube.id)
    assert back["state"] == "occupied"
    async with database.read_session() as session:
        assert await service.checkouts(session, actor) == []


async def test_disposal_frees_the_position_and_ends_the_sample(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor)
    tube = await new_sample(database, actor)
    await _place(database, actor, tube.id, freezer.box_ids[0], "A1")
    async with database.write_session() as session:
        await samples_service.transition(
            session, actor, tube.id, SampleStatus.CANCELLED, reason="withdrawn", signature=None
        )
    async with database.write_session() as session:
        await service.dispose(session, actor, tube.id, "autoclaved")
    async with database.read_session() as session:
        assert (await samples_service.read_sample(session, actor, tube.id)).status == "disposed"
        chain = await service.custody(session, actor, tube.id)
        assert chain["current"] is None
        assert [entry["event"] for entry in chain["entries"]] == ["storage.placed", "storage.disposed"]
        grid = await service.grid(session, actor, freezer.box_ids[0])
    assert grid["counts"]["occupied"] == 0


async def test_the_unit_tree_rolls_counts_up_every_level(database: Database, actor: Actor) -> None:
    freezer = await make_freezer(database, actor, boxes=2, rows=9, columns=9)
    async with database.write_session() as session:
        await service.create_container(
            session, actor, ContainerCreate(name="Shelf 2", kind=ContainerKind.SHELF, unit_id=freezer.unit_id)
        )
    for position in ("A1", "A2", "A3"):
        await _place(database, actor, (await new_sample(database, actor)).id, freezer.box_ids[1], position)
    async with database.read_session() as session:
        (unit,) = await service.unit_tree(session, actor)
    assert unit["counts"]["capacity"] == 162
    assert unit["counts"]["occupied"] == 3
    rack = next(child for child in unit["children"] if child["name"] == "Rack 1")
    assert [box["counts"]["occupied"] for box in rack["children"]] == [0, 3]
    assert rack["counts"]["free"] == 159


async def test_demo_storage_has_a_minus_80_freezer_of_10_by_10_boxes_and_a_fridge_partly_filled(
    database: Database,
) -> None:
    from seqtrack.samples import demo as samples_demo
    from seqtrack.storage import demo

    facility = await samples_demo.load(database, f"demo-{uuid.uuid4().hex[:6]}", 40)
    stored = await demo.load(database, facility.tenant_id)
    actor = staff_actor(facility.tenant_id)
    async with database.read_session() as session:
        units = {unit["name"]: unit for unit in await service.unit_tree(session, actor)}
        zones = {zone["zone"]: zone for zone in await service.zone_utilisation(session, facility.tenant_id)}
    assert set(units) == {"Freezer −80 A", "Fridge B"}
    freezer = units["Freezer −80 A"]
    boxes = [box for rack in freezer["children"] for box in rack["children"]]
    assert {(box["rows"], box["columns"]) for box in boxes} == {(10, 10)}
    assert 0 < freezer["counts"]["occupied"] < freezer["counts"]["capacity"]
    assert zones["minus_80"]["used"] == freezer["counts"]["occupied"] + freezer["counts"]["reserved"]
    assert stored.placed == freezer["counts"]["occupied"] + units["Fridge B"]["counts"]["occupied"]
    assert freezer["counts"]["checked_out"] == 1


async def test_a_sample_disposed_through_its_lifecycle_frees_its_position_once(
    database: Database, actor: Actor
) -> None:
    from seqtrack.events import consumers
    from seqtrack.events.recorder import envelope
    from seqtrack.storage import consumers as storage_consumers

    freezer = await make_freezer(database, actor)
    tube = await new_sample(database, actor)
    await _place(database, actor, tube.id, freezer.box_ids[0], "A1")
    for target, why in ((SampleStatus.CANCELLED, "withdrawn"), (SampleStatus.DISPOSED, "autoclaved")):
        async with database.write_session() as session:
            await samples_service.transition(session, actor, tube.id, target, reason=why, signature=None)
    async with database.read_session() as session:
        disposal = (
            await session.scalars(
                select(EventRecord).where(
                    EventRecord.aggregate_id == tube.id, EventRecord.type == "sample.status_changed"
                )
            )
        ).all()[-1]
    disposals = next(c for c in consumers.registered() if c.name == "storage_disposals")
    assert storage_consumers.free_position_of_disposed_sample is disposals.handler
    assert await consumers.apply_once(database, disposals, envelope(disposal))
    assert not await consumers.apply_once(database, disposals, envelope(disposal))
    async with database.read_session() as session:
        chain = await service.custody(session, actor, tube.id)
        grid = await service.grid(session, actor, freezer.box_ids[0])
    assert chain["current"] is None
    assert [(entry["event"], entry["reason"]) for entry in chain["entries"]][-1] == ("storage.disposed", "autoclaved")
    assert grid["counts"]["free"] == 100
