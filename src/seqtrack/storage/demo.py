"""Demo storage: a −80 °C freezer with racks of 10 × 10 boxes and a 4 °C fridge, partly filled.

Everything goes through the storage service, so every placement has its
custody event and audit entry like a real one.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from seqtrack.identity.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.samples import service as samples_service
from seqtrack.storage import service
from seqtrack.storage.rules import ContainerKind, UnitKind, Zone
from seqtrack.storage.schemas import CheckOutIn, ContainerCreate, FillIn, ReservationIn, UnitCreate

# Samples that have not arrived, or no longer exist, have no tube to store.
NOT_STORED = frozenset({"submitted", "cancelled", "disposed"})
ALWAYS_COLD = frozenset({"total_rna", "mrna"})


@dataclass(frozen=True)
class StorageDemo:
    units: int
    boxes: int
    placed: int


async def load(database: Database, tenant_id: uuid.UUID, seed: int = 11) -> StorageDemo:
    """Units, racks and boxes for the tenant, and its received samples placed in them."""
    chance = random.Random(seed)
    actor = Actor.system(tenant_id, display="demo loader")
    async with database.write_session() as session:
        freezer = await service.create_unit(
            session,
            actor,
            UnitCreate(
                name="Freezer −80 A", kind=UnitKind.FREEZER, zone=Zone.ULTRA_LOW, building="Life Sciences", room="B2.14"
            ),
        )
        fridge = await service.create_unit(
            session,
            actor,
            UnitCreate(name="Fridge B", kind=UnitKind.FRIDGE, zone=Zone.FRIDGE, building="Life Sciences", room="B2.10"),
        )
        cold_boxes: list[uuid.UUID] = []
        for rack_number in (1, 2):
            rack = await service.create_container(
                session, actor, ContainerCreate(name=f"Rack {rack_number}", kind=ContainerKind.RACK, unit_id=freezer.id)
            )
            for box_number in (1, 2, 3):
                box = await service.create_container(
                    session,
                    actor,
                    ContainerCreate(
                        name=f"Box {rack_number}-{box_number}",
                        kind=ContainerKind.BOX,
                        parent_id=rack.id,
                        rows=10,
                        columns=10,
                    ),
                )
                cold_boxes.append(box.id)
        shelf = await service.create_container(
            session, actor, ContainerCreate(name="Shelf 1", kind=ContainerKind.SHELF, unit_id=fridge.id)
        )
        fridge_boxes = [
            (
                await service.create_container(
                    session,
                    actor,
                    ContainerCreate(name=f"Box F{n}", kind=ContainerKind.BOX, parent_id=shelf.id, rows=9, columns=9),
                )
            ).id
            for n in (1, 2)
        ]
    async with database.read_session() as session:
        samples = await samples_service.newest_samples(session, actor, 5000)
    storable = [sample for sample in reversed(samples) if sample.status not in NOT_STORED]
    cold = [sample.id for sample in storable if sample.sample_type in ALWAYS_COLD or chance.random() < 0.75]
    kept_cold = set(cold)
    cool = [sample.id for sample in storable if sample.id not in kept_cold]
    placed = await _fill(database, actor, cold_boxes, cold, chance, most=85)
    placed += await _fill(database, actor, fridge_boxes[:1], cool, chance, most=60)
    if cold:
        async with database.write_session() as session:
            await service.reserve(
                session, actor, ReservationIn(reference="SUB-DEMO-0001", count=8, zone=Zone.ULTRA_LOW, contiguous=True)
            )
        async with database.write_session() as session:
            await service.check_out(session, actor, CheckOutIn(sample_id=cold[0], reason="aliquot for library prep"))
    return StorageDemo(units=2, boxes=len(cold_boxes) + len(fridge_boxes), placed=placed)


async def _fill(
    database: Database,
    actor: Actor,
    boxes: list[uuid.UUID],
    sample_ids: list[uuid.UUID],
    chance: random.Random,
    most: int,
) -> int:
    """Fill the boxes in order, each only partly, as a freezer in use looks."""
    placed = 0
    for box in boxes:
        if placed >= len(sample_ids):
            break
        batch = sample_ids[placed : placed + chance.randint(most // 2, most)]
        async with database.write_session() as session:
            await service.fill_box(session, actor, box, FillIn(sample_ids=batch, reason="demo data"))
        placed += len(batch)
    return placed
