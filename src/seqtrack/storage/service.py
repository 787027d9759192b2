"""Storage use cases: the only code that changes where a sample is, always through the recorder.

Every placement, move, removal, check-out and check-in of a sample is an event
of that sample's custody (aggregate ``sample_custody``, id = the sample's id),
written with its audit entry and outbox row in the transaction that changes
the position. The chain of custody is therefore one query over the event
store, and it matches the audit trail entry for entry.

Samples are the samples domain's: storage reads them only through its service.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from seqtrack.events import history
from seqtrack.events.recorder import DomainEvent, record, stage
from seqtrack.identity.actor import Actor
from seqtrack.platform.etag import settings_to_change
from seqtrack.platform.models import new_id, utcnow
from seqtrack.samples import service as samples_service
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.storage import labels, rackscan, repository, rules
from seqtrack.storage.errors import (
    AlreadyStored,
    CodeNotFound,
    ContainerNotFound,
    InvalidStorageInput,
    NotEnoughSpace,
    NotStored,
    PlacementChanged,
    PositionOccupied,
    ReservationNotFound,
    SampleGone,
    SampleUnknown,
    UnitNotFound,
    WrongPlacementState,
    ZoneRuleViolated,
)
from seqtrack.storage.events import (
    CONTAINER_AGGREGATE,
    CUSTODY_AGGREGATE,
    RESERVATION_AGGREGATE,
    SETTINGS_AGGREGATE,
    UNIT_AGGREGATE,
    ZONE_AGGREGATE,
    StorageEvent,
)
from seqtrack.storage.models import Placement, Reservation, StorageContainer, StorageSettings, StorageUnit
from seqtrack.storage.rules import GRID_KINDS, Zone
from seqtrack.storage.schemas import (
    CheckOutIn,
    ContainerCreate,
    FillIn,
    MoveItem,
    PlacementIn,
    ReservationIn,
    SettingsUpdate,
    UnitCreate,
)

SampleRow = Row[Any]
Document = dict[str, Any]
_ZONE_NAMESPACE = uuid.UUID("5b0f4c1e-8f0e-4e57-9a35-6a3f3e9f2c10")

# ---------------------------------------------------------------- the layout: units, containers, paths


@dataclass
class Layout:
    """A tenant's units and containers, read in two statements, with the paths people read."""

    units: dict[uuid.UUID, Row[Any]]
    containers: dict[uuid.UUID, Row[Any]]
    children: dict[uuid.UUID, list[Row[Any]]] = field(default_factory=dict)
    top: dict[uuid.UUID, list[Row[Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for row in self.containers.values():
            if row.parent_id is None:
                self.top.setdefault(row.unit_id, []).append(row)
            else:
                self.children.setdefault(row.parent_id, []).append(row)

    def chain(self, container_id: uuid.UUID) -> list[Row[Any]]:
        chain: list[Row[Any]] = []
        current: uuid.UUID | None = container_id
        while current is not None and len(chain) < 64:
            row = self.containers[current]
            chain.append(row)
            current = row.parent_id
        return list(reversed(chain))

    def zone(self, container_id: uuid.UUID) -> Zone:
        return Zone(self.units[self.containers[container_id].unit_id].zone)

    def path(self, container_id: uuid.UUID, position: str | None = None) -> str:
        unit = self.units[self.containers[container_id].unit_id]
        parts = [f"{unit.name} ({rules.ZONE_LABEL[Zone(unit.zone)]})", *(row.name for row in self.chain(container_id))]
        if position is not None:
            parts.append(position)
        return " › ".join(parts)

    def location(self, container_id: uuid.UUID, position: str) -> Document:
        container = self.containers[container_id]
        unit = self.units[container.unit_id]
        return {
            "unit_id": unit.id,
            "unit_name": unit.name,
            "zone": unit.zone,
            "container_id": container.id,
            "container_code": container.code,
            "container_name": container.name,
            "position": position,
            "position_code": rules.position_code(container.code, position),
            "path": self.path(container_id, position),
        }

    def position_brief(self, container_id: uuid.UUID, position: str) -> Document:
        """Where a position is, by its container, without the unit (``location`` adds it)."""
        code = self.containers[container_id].code
        return {
            "container_id": container_id,
            "container_code": code,
            "position": position,
            "position_code": rules.position_code(code, position),
            "path": self.path(container_id, position),
        }

    def grid_containers(self) -> list[Row[Any]]:
        grids = [row for row in self.containers.values() if row.rows is not None]
        return sorted(grids, key=lambda row: self.path(row.id))


async def _layout(session: AsyncSession, tenant_id: uuid.UUID) -> Layout:
    units = await repository.units(session, tenant_id)
    containers = await repository.containers(session, tenant_id)
    return Layout({row.id: row for row in units}, {row.id: row for row in containers})


@dataclass(frozen=True)
class Target:
    container_id: uuid.UUID
    position: str
    row_index: int
    column_index: int

    @property
    def key(self) -> tuple[uuid.UUID, str]:
        return (self.container_id, self.position)


def _grid(layout: Layout, container_id: uuid.UUID, field_name: str = "container_id") -> Row[Any]:
    container = layout.containers.get(container_id)
    if container is None:
        raise ContainerNotFound(f"No container {container_id} here.", container_id=str(container_id))
    if container.rows is None:
        raise InvalidStorageInput(
            f"{container.name} is a {container.kind}; samples go into boxes and plates.",
            errors=[{"field": field_name, "message": f"a {container.kind} has no positions"}],
        )
    return container


def _target(layout: Layout, container_id: uuid.UUID, position: str, field_name: str = "position") -> Target:
    container = _grid(layout, container_id)
    parsed = rules.parse_position(position, container.rows, container.columns)
    if parsed is None:
        last = rules.position_name(container.rows - 1, container.columns - 1)
        raise InvalidStorageInput(
            f"{position!r} is not a position of {container.name} (A1 to {last}).",
            errors=[{"field": field_name, "message": f"not a position of this {container.kind} (A1 to {last})"}],
        )
    name, row_index, column_index = parsed
    return Target(container.id, name, row_index, column_index)


# ---------------------------------------------------------------- settings


def default_settings(tenant_id: uuid.UUID) -> StorageSettings:
    return StorageSettings.defaults(
        tenant_id,
        zone_rules=dict(rules.DEFAULT_ZONE_RULES),
        warning_ratio=rules.DEFAULT_WARNING_RATIO,
        critical_ratio=rules.DEFAULT_CRITICAL_RATIO,
        checkout_hours=rules.DEFAULT_CHECKOUT_HOURS,
        reservation_hours=rules.DEFAULT_RESERVATION_HOURS,
    )


async def read_settings(session: AsyncSession, tenant_id: uuid.UUID) -> StorageSettings:
    """The tenant's storage rules; the facility defaults (unsaved) until someone edits them."""
    return await repository.settings(session, tenant_id) or default_settings(tenant_id)


async def update_settings(
    session: AsyncSession, actor: Actor, body: SettingsUpdate, if_match: str | None
) -> StorageSettings:
    current = settings_to_change(session, await read_settings(session, actor.tenant_id), if_match)
    wanted = body.model_dump(mode="json", exclude_unset=True)
    if "zone_rules" in wanted:
        merged = {**current.zone_rules, **(wanted["zone_rules"] or {})}
        wanted["zone_rules"] = {kind: zone for kind, zone in merged.items() if zone is not None}
    warning = wanted.get("warning_ratio") or current.warning_ratio
    critical = wanted.get("critical_ratio") or current.critical_ratio
    if warning >= critical:
        raise InvalidStorageInput(
            "The warning level must be below the critical level.",
            errors=[{"field": "warning_ratio", "message": f"must be below critical_ratio ({critical})"}],
        )
    changes = {
        name: (getattr(current, name), value)
        for name, value in wanted.items()
        if value is not None and getattr(current, name) != value
    }
    if not changes:
        return current
    for name, (_old, value) in changes.items():
        setattr(current, name, value)
    current.version += 1
    current.updated_at = utcnow()
    await record(
        session,
        DomainEvent(
            type=StorageEvent.SETTINGS_UPDATED,
            aggregate_type=SETTINGS_AGGREGATE,
            aggregate_id=current.tenant_id,
            changes=changes,
        ),
        actor,
        version=current.version,
    )
    await session.flush()
    return current


# ---------------------------------------------------------------- hierarchy


async def _insert(
    session: AsyncSession,
    actor: Actor,
    row: StorageUnit | StorageContainer,
    event_type: StorageEvent,
    aggregate: str,
    data: Document,
    fields: Sequence[str],
) -> None:
    """Write a new unit or container with its event, at its creation time: each of ``fields`` it has, from nothing."""
    session.add(row)
    changes = {name: (None, getattr(row, name)) for name in fields if getattr(row, name) is not None}
    event = DomainEvent(type=event_type, aggregate_type=aggregate, aggregate_id=row.id, data=data, changes=changes)
    stage(session, event, actor, version=row.version, occurred_at=row.created_at)
    await session.flush()


async def create_unit(session: AsyncSession, actor: Actor, body: UnitCreate) -> StorageUnit:
    # The body is the unit's fields as they are stored (kind and zone by their values).
    unit = StorageUnit.new(
        actor.tenant_id, version=1, code=rules.new_code(rules.UNIT_CODE_PREFIX), **body.model_dump(mode="json")
    )
    await _insert(
        session,
        actor,
        unit,
        StorageEvent.UNIT_CREATED,
        UNIT_AGGREGATE,
        {"code": unit.code, "name": unit.name, "zone": unit.zone},
        ("code", "name", "kind", "zone", "building", "room"),
    )
    return unit


async def create_container(session: AsyncSession, actor: Actor, body: ContainerCreate) -> StorageContainer:
    has_grid = body.kind in GRID_KINDS
    if has_grid and (body.rows is None or body.columns is None):
        missing = [name for name in ("rows", "columns") if getattr(body, name) is None]
        raise InvalidStorageInput(
            f"A {body.kind.value} needs a grid: give rows and columns (e.g. 9 × 9, 10 × 10, 8 × 12).",
            errors=[{"field": name, "message": f"required for a {body.kind.value}"} for name in missing],
        )
    if not has_grid and (body.rows is not None or body.columns is not None):
        given = [name for name in ("rows", "columns") if getattr(body, name) is not None]
        raise InvalidStorageInput(
            f"A {body.kind.value} holds containers, not samples: it has no grid.",
            errors=[{"field": name, "message": f"a {body.kind.value} has no grid"} for name in given],
        )
    if body.parent_id is not None:
        parent = await repository.container(session, actor.tenant_id, body.parent_id)
        if parent is None:
            raise ContainerNotFound(f"No container {body.parent_id} here.", container_id=str(body.parent_id))
        if parent.rows is not None:
            raise InvalidStorageInput(
                f"{parent.name} is a {parent.kind} with positions for samples; it cannot hold containers.",
                errors=[{"field": "parent_id", "message": f"a {parent.kind} holds samples, not containers"}],
            )
        unit_id = parent.unit_id
    else:
        assert body.unit_id is not None
        if await repository.unit(session, actor.tenant_id, body.unit_id) is None:
            raise UnitNotFound(f"No storage unit {body.unit_id} here.", unit_id=str(body.unit_id))
        unit_id = body.unit_id
    container = StorageContainer.new(
        actor.tenant_id,
        version=1,
        unit_id=unit_id,
        parent_id=body.parent_id,
        code=rules.new_code(rules.CODE_PREFIX[body.kind]),
        name=body.name,
        kind=body.kind.value,
        rows=body.rows,
        columns=body.columns,
    )
    await _insert(
        session,
        actor,
        container,
        StorageEvent.CONTAINER_CREATED,
        CONTAINER_AGGREGATE,
        {"code": container.code, "name": container.name, "unit_id": unit_id},
        ("code", "name", "kind", "unit_id", "parent_id", "rows", "columns"),
    )
    return container


def container_document(layout: Layout, container_id: uuid.UUID) -> Document:
    row = layout.containers[container_id]
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "unit_id": row.unit_id,
        "parent_id": row.parent_id,
        "rows": row.rows,
        "columns": row.columns,
        "path": layout.path(row.id),
        "version": row.version,
        "created_at": row.created_at,
    }


async def read_container(session: AsyncSession, actor: Actor, container_id: uuid.UUID) -> Document:
    layout = await _layout(session, actor.tenant_id)
    if container_id not in layout.containers:
        raise ContainerNotFound(f"No container {container_id} here.", container_id=str(container_id))
    return container_document(layout, container_id)


def _counts(capacity: int, held: Mapping[str, int]) -> Document:
    occupied = held.get("occupied", 0) + held.get("checked_out", 0)
    reserved = held.get("reserved", 0)
    used = occupied + reserved
    return {
        "capacity": capacity,
        "occupied": occupied,
        "checked_out": held.get("checked_out", 0),
        "reserved": reserved,
        "free": max(capacity - used, 0),
        "utilisation": round(used / capacity, 4) if capacity else 0.0,
    }


async def unit_tree(session: AsyncSession, actor: Actor, unit_id: uuid.UUID | None = None) -> list[Document]:
    """Every unit (or one) with its containers nested, each level with its rolled-up counts."""
    layout = await _layout(session, actor.tenant_id)
    if unit_id is not None and unit_id not in layout.units:
        raise UnitNotFound(f"No storage unit {unit_id} here.", unit_id=str(unit_id))
    held: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for container_id, state, count in await repository.counts_by_container(session, actor.tenant_id, utcnow()):
        held[container_id][state] = int(count)

    def nested(
        rows: list[Row[Any]], capacity: int, totals: dict[str, int]
    ) -> tuple[list[Document], int, dict[str, int]]:
        """The documents of ``rows``, and ``capacity`` and ``totals`` with theirs added."""
        children = []
        for row in rows:
            document, child_capacity, child_totals = node(row)
            children.append(document)
            capacity += child_capacity
            for state, count in child_totals.items():
                totals[state] = totals.get(state, 0) + count
        return children, capacity, totals

    def node(row: Row[Any]) -> tuple[Document, int, dict[str, int]]:
        own_capacity = (row.rows or 0) * (row.columns or 0)
        children, capacity, totals = nested(layout.children.get(row.id, []), own_capacity, dict(held.get(row.id, {})))
        document = {
            "id": row.id,
            "code": row.code,
            "name": row.name,
            "kind": row.kind,
            "rows": row.rows,
            "columns": row.columns,
            "counts": _counts(capacity, totals),
            "children": children,
        }
        return document, capacity, totals

    units = []
    for unit in layout.units.values():
        if unit_id is not None and unit.id != unit_id:
            continue
        children, capacity, totals = nested(layout.top.get(unit.id, []), 0, {})
        units.append(
            {
                "id": unit.id,
                "code": unit.code,
                "name": unit.name,
                "kind": unit.kind,
                "zone": unit.zone,
                "building": unit.building,
                "room": unit.room,
                "version": unit.version,
                "created_at": unit.created_at,
                "counts": _counts(capacity, totals),
                "children": children,
            }
        )
    return units


# ---------------------------------------------------------------- samples, as the samples service shows them


def sample_brief(row: SampleRow) -> Document:
    return {
        "id": row.id,
        "human_id": row.human_id,
        "barcode": row.barcode,
        "name": row.name,
        "sample_type": row.sample_type,
        "status": row.status,
    }


async def _samples(session: AsyncSession, actor: Actor, sample_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SampleRow]:
    found = {row.id: row for row in await samples_service.read_samples(session, actor, sample_ids)}
    missing = [sample_id for sample_id in sample_ids if sample_id not in found]
    if missing:
        raise SampleUnknown(
            f"No sample {missing[0]} here." if len(missing) == 1 else f"{len(missing)} of the samples are not here.",
            sample_ids=[str(sample_id) for sample_id in missing],
        )
    gone = [row for row in found.values() if row.status == SampleStatus.DISPOSED.value]
    if gone:
        raise SampleGone(f"{gone[0].human_id} has been disposed; it cannot be stored.", human_id=gone[0].human_id)
    return found


def _check_zones(layout: Layout, settings: StorageSettings, pairs: Iterable[tuple[SampleRow, Target]]) -> None:
    for sample, target in pairs:
        warmest = rules.warmest_allowed(sample.sample_type, settings.zone_rules)
        zone = layout.zone(target.container_id)
        if not rules.zone_allows(zone, warmest):
            assert warmest is not None
            unit = layout.units[layout.containers[target.container_id].unit_id]
            raise ZoneRuleViolated(
                f"{sample.human_id} is {sample.sample_type.replace('_', ' ')}, which this facility keeps at "
                f"{rules.ZONE_LABEL[warmest]} or colder; {unit.name} is {rules.ZONE_LABEL[zone]}.",
                human_id=sample.human_id,
                sample_type=sample.sample_type,
                zone=zone.value,
                warmest_allowed=warmest.value,
            )


def placement_document(
    placement: Placement | Row[Any], layout: Layout, human_ids: Mapping[uuid.UUID, str], now: datetime
) -> Document:
    due = placement.due_back_at
    return {
        "sample_id": placement.sample_id,
        "human_id": human_ids.get(placement.sample_id) if placement.sample_id else None,
        "state": placement.state,
        "location": layout.location(placement.container_id, placement.position),
        "placed_at": placement.placed_at,
        "placed_by": placement.placed_by,
        "reservation_id": placement.reservation_id,
        "reserved_until": placement.reserved_until,
        "checked_out_by": placement.checked_out_by,
        "checked_out_at": placement.checked_out_at,
        "due_back_at": due,
        "overdue": placement.state == "checked_out" and due is not None and due < now,
    }


# ---------------------------------------------------------------- placing, moving, removing


async def place(session: AsyncSession, actor: Actor, body: PlacementIn) -> Document:
    """Put one sample into a free position (or one reserved for ``body.reservation_id``)."""
    layout = await _layout(session, actor.tenant_id)
    target = _target(layout, body.container_id, body.position)
    samples = await _samples(session, actor, [body.sample_id])
    sample = samples[body.sample_id]
    _check_zones(layout, await read_settings(session, actor.tenant_id), [(sample, target)])
    now = utcnow()
    existing = await repository.placements_of_samples(session, actor.tenant_id, [sample.id])
    if existing:
        where = layout.path(existing[0].container_id, existing[0].position)
        raise AlreadyStored(
            f"{sample.human_id} is already at {where}; move it instead.", location=where, human_id=sample.human_id
        )
    await repository.drop_expired_reservations(session, [target.key], now)
    holders = await repository.placements_at(session, [target.key], now)
    if holders:
        holder = holders[0]
        if not (
            holder.state == "reserved"
            and body.reservation_id is not None
            and holder.reservation_id == body.reservation_id
        ):
            raise _occupied(layout, [holder])
        holder.sample_id = sample.id
        holder.state = "occupied"
        holder.reserved_until = None
        holder.placed_at = now
        holder.placed_by = actor.display
        holder.version += 1
        placement = holder
    else:
        placement = _new_placement(actor, target, sample.id, now)
        session.add(placement)
    await _flush_positions(session, layout, [target])
    location = layout.location(target.container_id, target.position)
    await _stage_custody(session, actor, [(StorageEvent.PLACED, sample, None, location, body.reason)], now)
    await _warn_on_capacity(session, actor, {layout.zone(target.container_id): 1})
    return placement_document(placement, layout, {sample.id: sample.human_id}, now)


async def fill_box(session: AsyncSession, actor: Actor, container_id: uuid.UUID, body: FillIn) -> list[Document]:
    """Place these samples, in order, into the box's next free positions (row by row), all or none."""
    layout = await _layout(session, actor.tenant_id)
    container = _grid(layout, container_id)
    start = _target(layout, container_id, body.start_at, "start_at") if body.start_at else None
    duplicates = _duplicates(body.sample_ids)
    if duplicates:
        raise InvalidStorageInput(
            "A sample is listed twice.",
            errors=[{"field": f"sample_ids.{index}", "message": "listed twice"} for index in duplicates],
        )
    samples = await _samples(session, actor, body.sample_ids)
    now = utcnow()
    stored = await repository.placements_of_samples(session, actor.tenant_id, body.sample_ids)
    if stored:
        first = stored[0]
        assert first.sample_id is not None
        raise AlreadyStored(
            f"{samples[first.sample_id].human_id} is already at {layout.path(first.container_id, first.position)}; "
            "move it instead.",
            human_ids=sorted(samples[row.sample_id].human_id for row in stored if row.sample_id is not None),
        )
    held = {(row.container_id, row.position) for row in await repository.placements_in(session, [container_id], now)}
    free = [
        target
        for target in _positions(container)
        if target.key not in held
        and (start is None or (target.row_index, target.column_index) >= (start.row_index, start.column_index))
    ]
    if len(free) < len(body.sample_ids):
        raise NotEnoughSpace(
            f"{container.name} has {len(free)} free positions{' from ' + start.position if start else ''}; "
            f"{len(body.sample_ids)} samples were given.",
            free=len(free),
            wanted=len(body.sample_ids),
        )
    targets = free[: len(body.sample_ids)]
    ordered = [samples[sample_id] for sample_id in body.sample_ids]
    _check_zones(layout, await read_settings(session, actor.tenant_id), zip(ordered, targets, strict=True))
    await repository.drop_expired_reservations(session, [target.key for target in targets], now)
    placements = [
        _new_placement(actor, target, sample.id, now) for sample, target in zip(ordered, targets, strict=True)
    ]
    session.add_all(placements)
    await _flush_positions(session, layout, targets)
    await _stage_custody(
        session,
        actor,
        [
            (StorageEvent.PLACED, sample, None, layout.location(target.container_id, target.position), body.reason)
            for sample, target in zip(ordered, targets, strict=True)
        ],
        now,
    )
    await _warn_on_capacity(session, actor, {layout.zone(container_id): len(placements)})
    names = {sample.id: sample.human_id for sample in ordered}
    return [placement_document(placement, layout, names, now) for placement in placements]


async def move(session: AsyncSession, actor: Actor, items: Sequence[MoveItem], reason: str) -> list[Document]:
    """Move stored samples to other positions, all or none; tubes may swap places in one request."""
    layout = await _layout(session, actor.tenant_id)
    sample_ids = [item.sample_id for item in items]
    duplicates = _duplicates(sample_ids)
    if duplicates:
        raise InvalidStorageInput(
            "A sample is moved twice in one request.",
            errors=[{"field": f"moves.{index}.sample_id", "message": "listed twice"} for index in duplicates],
        )
    targets = [
        _target(layout, item.container_id, item.position, f"moves.{index}.position") for index, item in enumerate(items)
    ]
    twice = _duplicates([target.key for target in targets])
    if twice:
        raise InvalidStorageInput(
            "Two samples are moved to the same position.",
            errors=[{"field": f"moves.{index}.position", "message": "another move goes here too"} for index in twice],
        )
    samples = await _samples(session, actor, sample_ids)
    _check_zones(
        layout,
        await read_settings(session, actor.tenant_id),
        [(samples[item.sample_id], target) for item, target in zip(items, targets, strict=True)],
    )
    now = utcnow()
    placements = {
        row.sample_id: row for row in await repository.placements_of_samples(session, actor.tenant_id, sample_ids)
    }
    unstored = [samples[sample_id].human_id for sample_id in sample_ids if sample_id not in placements]
    if unstored:
        raise NotStored(f"{unstored[0]} has no position to move from; place it first.", human_ids=unstored)
    await repository.drop_expired_reservations(session, [target.key for target in targets], now)
    blockers = [
        holder
        for holder in await repository.placements_at(session, [target.key for target in targets], now)
        if holder.sample_id not in placements
    ]
    if blockers:
        raise _occupied(layout, blockers)
    moving = [
        (placements[item.sample_id], target)
        for item, target in zip(items, targets, strict=True)
        if (placements[item.sample_id].container_id, placements[item.sample_id].position) != target.key
    ]
    origins = {placement.sample_id: (placement.container_id, placement.position) for placement, _ in moving}
    if set(origins.values()) & {target.key for _, target in moving}:
        # A swap or a shift within the moved set: park them first, or the
        # one-sample-per-position constraint would refuse the intermediate state.
        for index, (placement, _destination) in enumerate(moving):
            placement.position = f"~{index}"
            placement.version += 1
        await _flush_positions(session, layout, [])
    for placement, target in moving:
        placement.container_id = target.container_id
        placement.position = target.position
        placement.row_index = target.row_index
        placement.column_index = target.column_index
        placement.placed_at = now
        placement.placed_by = actor.display
        placement.version += 1
    await _flush_positions(session, layout, [target for _, target in moving])
    await _stage_custody(
        session,
        actor,
        [
            (
                StorageEvent.MOVED,
                samples[placement.sample_id],
                layout.location(*origins[placement.sample_id]),
                layout.location(target.container_id, target.position),
                reason,
            )
            for placement, target in moving
            if placement.sample_id is not None
        ],
        now,
    )
    arrivals: dict[Zone, int] = defaultdict(int)
    for placement, target in moving:
        if layout.zone(origins[placement.sample_id][0]) != layout.zone(target.container_id):
            arrivals[layout.zone(target.container_id)] += 1
    await _warn_on_capacity(session, actor, arrivals)
    names = {sample.id: sample.human_id for sample in samples.values()}
    return [placement_document(placements[item.sample_id], layout, names, now) for item in items]


async def remove(session: AsyncSession, actor: Actor, sample_id: uuid.UUID, reason: str) -> Document:
    """Take a sample out of storage (shipped back, used up); its position becomes free."""
    layout = await _layout(session, actor.tenant_id)
    sample = (await _samples(session, actor, [sample_id]))[sample_id]
    placement = await _stored(session, actor, sample)
    now = utcnow()
    before = placement_document(placement, layout, {sample.id: sample.human_id}, now)
    await session.delete(placement)
    await _flush_positions(session, layout, [])
    origin = layout.location(placement.container_id, placement.position)
    await _stage_custody(session, actor, [(StorageEvent.REMOVED, sample, origin, None, reason)], now)
    return before


async def dispose(session: AsyncSession, actor: Actor, sample_id: uuid.UUID, reason: str) -> Document | None:
    """End the sample's physical life: its record becomes disposed and its position (if any) is freed."""
    layout = await _layout(session, actor.tenant_id)
    sample = (await _samples(session, actor, [sample_id]))[sample_id]
    now = utcnow()
    placements = await repository.placements_of_samples(session, actor.tenant_id, [sample_id])
    # The samples service owns the lifecycle: it refuses (409, with the allowed moves)
    # a sample still being worked on, before storage frees anything.
    await samples_service.transition(session, actor, sample_id, SampleStatus.DISPOSED, reason=reason, signature=None)
    before = None
    origin = None
    if placements:
        placement = placements[0]
        before = placement_document(placement, layout, {sample.id: sample.human_id}, now)
        origin = layout.location(placement.container_id, placement.position)
        await session.delete(placement)
        await _flush_positions(session, layout, [])
    await _stage_custody(session, actor, [(StorageEvent.DISPOSED, sample, origin, None, reason)], now)
    return before


async def check_out(session: AsyncSession, actor: Actor, body: CheckOutIn) -> Document:
    """A sample leaves its position for work; the position stays its own until it comes back."""
    layout = await _layout(session, actor.tenant_id)
    sample = (await _samples(session, actor, [body.sample_id]))[body.sample_id]
    placement = await _stored(session, actor, sample)
    if placement.state != "occupied":
        raise WrongPlacementState(
            f"{sample.human_id} is already checked out by {placement.checked_out_by} "
            f"since {placement.checked_out_at:%Y-%m-%d %H:%M} UTC.",
            checked_out_by=placement.checked_out_by,
        )
    settings = await read_settings(session, actor.tenant_id)
    now = utcnow()
    placement.state = "checked_out"
    placement.checked_out_by = actor.display
    placement.checked_out_by_id = actor.user_id or actor.principal_id
    placement.checked_out_at = now
    placement.due_back_at = now + timedelta(hours=body.hours or settings.checkout_hours)
    placement.version += 1
    await _flush_positions(session, layout, [])
    origin = layout.location(placement.container_id, placement.position)
    await _stage_custody(
        session,
        actor,
        [(StorageEvent.CHECKED_OUT, sample, origin, None, body.reason)],
        now,
        extra={"due_back_at": placement.due_back_at},
    )
    return placement_document(placement, layout, {sample.id: sample.human_id}, now)


async def check_in(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> Document:
    layout = await _layout(session, actor.tenant_id)
    sample = (await _samples(session, actor, [sample_id]))[sample_id]
    placement = await _stored(session, actor, sample)
    if placement.state != "checked_out":
        raise WrongPlacementState(f"{sample.human_id} is in its position; it was not checked out.")
    now = utcnow()
    placement.state = "occupied"
    placement.checked_out_by = None
    placement.checked_out_by_id = None
    placement.checked_out_at = None
    placement.due_back_at = None
    placement.version += 1
    await _flush_positions(session, layout, [])
    back = layout.location(placement.container_id, placement.position)
    await _stage_custody(session, actor, [(StorageEvent.CHECKED_IN, sample, None, back, None)], now)
    return placement_document(placement, layout, {sample.id: sample.human_id}, now)


async def checkouts(session: AsyncSession, actor: Actor, overdue: bool | None = None) -> list[Document]:
    """Samples out of their positions, soonest due first; ``overdue`` narrows to late (or not late) ones."""
    layout = await _layout(session, actor.tenant_id)
    rows = await repository.checked_out(session, actor.tenant_id)
    names = {
        row.id: row.human_id for row in await samples_service.read_samples(session, actor, [r.sample_id for r in rows])
    }
    now = utcnow()
    documents = [placement_document(row, layout, names, now) for row in rows]
    return [document for document in documents if overdue is None or document["overdue"] == overdue]


async def _stored(session: AsyncSession, actor: Actor, sample: SampleRow) -> Placement:
    placements = await repository.placements_of_samples(session, actor.tenant_id, [sample.id])
    if not placements:
        raise NotStored(f"{sample.human_id} is not in storage.", human_id=sample.human_id)
    return placements[0]


def _new_placement(actor: Actor, target: Target, sample_id: uuid.UUID | None, now: datetime) -> Placement:
    # A target's fields are the placement's: container, position and its row and column.
    return Placement(
        id=new_id(),
        tenant_id=actor.tenant_id,
        **asdict(target),
        sample_id=sample_id,
        state="occupied" if sample_id is not None else "reserved",
        placed_at=now,
        placed_by=actor.display,
        version=1,
    )


def _positions(container: Row[Any]) -> list[Target]:
    return [
        Target(container.id, rules.position_name(row, column), row, column)
        for row in range(container.rows)
        for column in range(container.columns)
    ]


def _duplicates(values: Sequence[Any]) -> list[int]:
    seen: set[Any] = set()
    twice = []
    for index, value in enumerate(values):
        if value in seen:
            twice.append(index)
        seen.add(value)
    return twice


def _occupied(layout: Layout, holders: Sequence[Placement]) -> PositionOccupied:
    names = [layout.path(holder.container_id, holder.position) for holder in holders]
    what = "is reserved" if all(holder.state == "reserved" for holder in holders) else "is taken"
    return PositionOccupied(
        f"{names[0]} {what}." if len(names) == 1 else f"{len(names)} of the positions are taken: {', '.join(names)}.",
        positions=[
            {"container_id": str(holder.container_id), "position": holder.position, "state": holder.state}
            for holder in holders
        ],
    )


async def _flush_positions(session: AsyncSession, layout: Layout, targets: Sequence[Target]) -> None:
    """Send the placement changes; the database's unique constraints decide any race."""
    wanted = [layout.path(target.container_id, target.position) for target in targets]
    try:
        await session.flush()
    except IntegrityError as exc:
        if "sample_id" in str(exc.orig):
            raise AlreadyStored("The sample was placed by someone else meanwhile; read it again.") from exc
        raise PositionOccupied(
            (f"{wanted[0]} was taken meanwhile." if len(wanted) == 1 else "A position was taken meanwhile.")
            + " Choose another position.",
            positions=wanted,
        ) from exc
    except StaleDataError as exc:
        raise PlacementChanged("Someone moved this sample meanwhile; read its position again.") from exc


CustodyItem = tuple[StorageEvent, SampleRow, Document | None, Document | None, str | None]


async def _stage_custody(
    session: AsyncSession,
    actor: Actor,
    items: Sequence[CustodyItem],
    now: datetime,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """One custody event per sample, their versions read in one statement, sent in one batch."""
    versions = await history.latest_versions(session, CUSTODY_AGGREGATE, [item[1].id for item in items])
    for event_type, sample, origin, destination, reason in items:
        changes: dict[str, tuple[Any, Any]] = {
            "location": (origin["path"] if origin else None, destination["path"] if destination else None)
        }
        if event_type is StorageEvent.CHECKED_OUT:
            changes = {"state": ("occupied", "checked_out")}
        elif event_type is StorageEvent.CHECKED_IN:
            changes = {"state": ("checked_out", "occupied")}
        stage(
            session,
            DomainEvent(
                type=event_type,
                aggregate_type=CUSTODY_AGGREGATE,
                aggregate_id=sample.id,
                data={
                    "sample_id": sample.id,
                    "human_id": sample.human_id,
                    "lab_id": sample.lab_id,
                    "from": origin,
                    "to": destination,
                    **(extra or {}),
                },
                changes=changes,
                reason=reason,
            ),
            actor,
            version=versions.get(sample.id, 0) + 1,
            occurred_at=now,
        )
    await session.flush()


# ---------------------------------------------------------------- capacity


def zone_aggregate_id(tenant_id: uuid.UUID, zone: str) -> uuid.UUID:
    return uuid.uuid5(_ZONE_NAMESPACE, f"{tenant_id}:{zone}")


async def zone_utilisation(session: AsyncSession, tenant_id: uuid.UUID) -> list[Document]:
    capacity = {row.zone: int(row[2] or 0) for row in await repository.zone_capacity(session, tenant_id)}
    used = {row.zone: int(row[2]) for row in await repository.zone_usage(session, tenant_id, utcnow())}
    zones = []
    for zone in rules.ZONE_ORDER:
        if zone.value not in capacity and zone.value not in used:
            continue
        total, held = capacity.get(zone.value, 0), used.get(zone.value, 0)
        zones.append(
            {
                "zone": zone.value,
                "capacity": total,
                "used": held,
                "free": max(total - held, 0),
                "utilisation": round(held / total, 4) if total else 0.0,
            }
        )
    return zones


async def _warn_on_capacity(session: AsyncSession, actor: Actor, arrivals: Mapping[Zone, int]) -> None:
    """An event when this change carried a zone across the warning or critical level (upwards)."""
    arrivals = {zone: count for zone, count in arrivals.items() if count > 0}
    if not arrivals:
        return
    settings = await read_settings(session, actor.tenant_id)
    for zone_row in await zone_utilisation(session, actor.tenant_id):
        zone = Zone(zone_row["zone"])
        if zone not in arrivals or not zone_row["capacity"]:
            continue
        after = zone_row["used"] / zone_row["capacity"]
        before = (zone_row["used"] - arrivals[zone]) / zone_row["capacity"]
        crossed = [
            (event_type, threshold)
            for event_type, threshold in (
                (StorageEvent.CAPACITY_CRITICAL, settings.critical_ratio),
                (StorageEvent.CAPACITY_WARNING, settings.warning_ratio),
            )
            if before < threshold <= after
        ]
        if not crossed:
            continue
        event_type, threshold = crossed[0]
        await record(
            session,
            DomainEvent(
                type=event_type,
                aggregate_type=ZONE_AGGREGATE,
                aggregate_id=zone_aggregate_id(actor.tenant_id, zone.value),
                data={
                    "zone": zone.value,
                    "used": zone_row["used"],
                    "capacity": zone_row["capacity"],
                    "utilisation": round(after, 4),
                    "threshold": threshold,
                },
            ),
            actor,
        )
    await session.flush()


# ---------------------------------------------------------------- free positions and reservations


async def free_positions(
    session: AsyncSession,
    actor: Actor,
    *,
    count: int,
    zone: Zone | None = None,
    container_id: uuid.UUID | None = None,
    contiguous: bool = False,
    layout: Layout | None = None,
) -> list[Document]:
    """The first ``count`` free positions (box by box, row by row), in one box and consecutive if asked."""
    layout = layout or await _layout(session, actor.tenant_id)
    if container_id is not None:
        boxes = [_grid(layout, container_id)]
    else:
        boxes = [row for row in layout.grid_containers() if zone is None or layout.zone(row.id) == zone]
    now = utcnow()
    held = {
        (row.container_id, row.position) for row in await repository.placements_in(session, [b.id for b in boxes], now)
    }
    found: list[Target] = []
    for box in boxes:
        run: list[Target] = []
        for target in _positions(box):
            if target.key in held:
                run = []
                continue
            if contiguous:
                run.append(target)
                if len(run) == count:
                    found = run
                    break
            else:
                found.append(target)
                if len(found) == count:
                    break
        if len(found) == count:
            break
    return [layout.position_brief(target.container_id, target.position) for target in found]


async def reserve(session: AsyncSession, actor: Actor, body: ReservationIn) -> Document:
    """Hold ``count`` free positions for an incoming submission until they are filled or the hold expires."""
    layout = await _layout(session, actor.tenant_id)
    if body.container_id is not None:
        _grid(layout, body.container_id)
    wanted = body.model_dump(include={"count", "zone", "container_id", "contiguous"})
    positions = await free_positions(session, actor, layout=layout, **wanted)
    if len(positions) < body.count:
        where = f"in {rules.ZONE_LABEL[body.zone]}" if body.zone else "here"
        raise NotEnoughSpace(
            f"Only {len(positions)} {'consecutive ' if body.contiguous else ''}free positions {where}; "
            f"{body.count} were asked for.",
            free=len(positions),
            wanted=body.count,
        )
    settings = await read_settings(session, actor.tenant_id)
    now = utcnow()
    expires_at = now + timedelta(hours=body.hours or settings.reservation_hours)
    reservation = Reservation(
        id=new_id(),
        tenant_id=actor.tenant_id,
        reference=body.reference,
        zone=body.zone.value if body.zone else None,
        count=body.count,
        expires_at=expires_at,
        released_at=None,
        created_at=now,
        version=1,
    )
    session.add(reservation)
    await session.flush()
    targets = [_target(layout, position["container_id"], position["position"]) for position in positions]
    await repository.drop_expired_reservations(session, [target.key for target in targets], now)
    for target in targets:
        held = _new_placement(actor, target, None, now)
        held.reservation_id = reservation.id
        held.reserved_until = expires_at
        session.add(held)
    await _flush_positions(session, layout, targets)
    stage(
        session,
        DomainEvent(
            type=StorageEvent.RESERVED,
            aggregate_type=RESERVATION_AGGREGATE,
            aggregate_id=reservation.id,
            data={
                "reference": reservation.reference,
                "count": reservation.count,
                "expires_at": expires_at,
                "positions": [position["position_code"] for position in positions],
            },
            changes={"reference": (None, reservation.reference), "expires_at": (None, expires_at)},
        ),
        actor,
        version=1,
        occurred_at=now,
    )
    await session.flush()
    zones: dict[Zone, int] = defaultdict(int)
    for target in targets:
        zones[layout.zone(target.container_id)] += 1
    await _warn_on_capacity(session, actor, zones)
    return _reservation_document(reservation, positions)


async def release_reservation(
    session: AsyncSession, actor: Actor, reservation_id: uuid.UUID, reason: str | None = None
) -> Document:
    """Give back the positions a reservation still holds (a cancelled submission, a saga compensating)."""
    reservation = await repository.reservation(session, actor.tenant_id, reservation_id)
    if reservation is None:
        raise ReservationNotFound(f"No reservation {reservation_id} here.", reservation_id=str(reservation_id))
    if reservation.released_at is not None:
        return _reservation_document(reservation, [])
    layout = await _layout(session, actor.tenant_id)
    held = await repository.reserved_positions(session, reservation.id)
    freed = [rules.position_code(layout.containers[row.container_id].code, row.position) for row in held]
    for row in held:
        await session.delete(row)
    now = utcnow()
    reservation.released_at = now
    reservation.version += 1
    await session.flush()
    stage(
        session,
        DomainEvent(
            type=StorageEvent.RESERVATION_RELEASED,
            aggregate_type=RESERVATION_AGGREGATE,
            aggregate_id=reservation.id,
            data={"reference": reservation.reference, "freed": freed},
            changes={"released_at": (None, now)},
            reason=reason,
        ),
        actor,
        version=reservation.version,
        occurred_at=now,
    )
    await session.flush()
    return _reservation_document(reservation, [])


async def read_reservation(session: AsyncSession, actor: Actor, reservation_id: uuid.UUID) -> Document:
    reservation = await repository.reservation(session, actor.tenant_id, reservation_id)
    if reservation is None:
        raise ReservationNotFound(f"No reservation {reservation_id} here.", reservation_id=str(reservation_id))
    layout = await _layout(session, actor.tenant_id)
    now = utcnow()
    held = [row for row in await repository.reserved_positions(session, reservation.id) if reservation.expires_at > now]
    positions = [layout.position_brief(row.container_id, row.position) for row in held]
    return _reservation_document(reservation, positions)


def _reservation_document(reservation: Reservation, positions: list[Document]) -> Document:
    return {
        "id": reservation.id,
        "reference": reservation.reference,
        "zone": reservation.zone,
        "count": reservation.count,
        "expires_at": reservation.expires_at,
        "released_at": reservation.released_at,
        "positions": positions,
    }


# ---------------------------------------------------------------- views


async def grid(session: AsyncSession, actor: Actor, container_id: uuid.UUID) -> Document:
    """A box or plate position by position: who is in each, what is reserved or checked out."""
    layout = await _layout(session, actor.tenant_id)
    container = _grid(layout, container_id)
    now = utcnow()
    held = {row.position: row for row in await repository.placements_in(session, [container_id], now)}
    sample_ids = [row.sample_id for row in held.values() if row.sample_id is not None]
    samples = {row.id: row for row in await samples_service.read_samples(session, actor, sample_ids)}
    cells = []
    counts: dict[str, int] = defaultdict(int)
    for target in _positions(container):
        holder = held.get(target.position)
        sample = samples.get(holder.sample_id) if holder is not None and holder.sample_id is not None else None
        state = holder.state if holder is not None else "free"
        if holder is not None:
            counts[holder.state] += 1
        due = holder.due_back_at if holder is not None else None
        cells.append(
            {
                "position": target.position,
                "row": target.row_index,
                "column": target.column_index,
                "code": rules.position_code(container.code, target.position),
                "state": state,
                "sample": sample_brief(sample) if sample is not None else None,
                "reservation_id": holder.reservation_id if holder is not None else None,
                "reserved_until": holder.reserved_until if holder is not None else None,
                "checked_out_by": holder.checked_out_by if holder is not None else None,
                "due_back_at": due,
                "overdue": state == "checked_out" and due is not None and due < now,
            }
        )
    return {
        "container": container_document(layout, container_id),
        "zone": layout.zone(container_id).value,
        "counts": _counts(container.rows * container.columns, counts),
        "cells": cells,
    }


async def custody(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> Document:
    """Every place the sample has been, who put it there, when and why: its custody events, oldest first."""
    sample = await samples_service.read_sample(session, actor, sample_id)
    entries = [
        {
            "event": event.type,
            "occurred_at": event.occurred_at,
            "actor_display": event.actor_display,
            "actor_id": event.actor_id,
            "reason": event.data.get("reason"),
            "from_location": event.data.get("from"),
            "to_location": event.data.get("to"),
            "audit_event_id": event.id,
        }
        for event in await history.of_aggregate(session, actor.tenant_id, CUSTODY_AGGREGATE, sample_id)
    ]
    current = await _current_placements(session, actor, [sample])
    return {
        "sample_id": sample.id,
        "human_id": sample.human_id,
        "current": current.get(sample.id),
        "entries": entries,
    }


async def _current_placements(
    session: AsyncSession, actor: Actor, samples: Sequence[SampleRow], layout: Layout | None = None
) -> dict[uuid.UUID, Document]:
    rows = await repository.placement_rows_of_samples(session, [sample.id for sample in samples])
    if not rows:
        return {}
    layout = layout or await _layout(session, actor.tenant_id)
    names = {sample.id: sample.human_id for sample in samples}
    now = utcnow()
    return {
        row.sample_id: placement_document(row, layout, names, now)
        for row in rows
        if row.tenant_id == actor.tenant_id and row.sample_id is not None
    }


async def where_is(session: AsyncSession, actor: Actor, text: str) -> list[Document]:
    """Samples matching an ID, barcode or name, each with where it is now (or nowhere)."""
    samples = await samples_service.search_samples(session, actor, text, limit=20)
    placements = await _current_placements(session, actor, samples)
    return [{"sample": sample_brief(sample), "placement": placements.get(sample.id)} for sample in samples]


async def scan(session: AsyncSession, actor: Actor, code: str) -> Document:
    """Whatever a scanned code names: a position, a box or other container, a unit, or a sample."""
    code = code.strip()
    upper = code.upper()
    position_match = rules.POSITION_CODE.fullmatch(upper)
    if position_match is not None:
        container_id = await repository.container_id_by_code(session, actor.tenant_id, position_match.group(1))
        if container_id is not None:
            shown = await grid(session, actor, container_id)
            cell = next((cell for cell in shown["cells"] if cell["position"] == position_match.group(2)), None)
            if cell is not None:
                return {
                    "code": upper,
                    "kind": "position",
                    "container": shown["container"],
                    "position": cell["position"],
                    "cell": cell,
                }
    if rules.CONTAINER_CODE.fullmatch(upper):
        container_id = await repository.container_id_by_code(session, actor.tenant_id, upper)
        if container_id is not None:
            return {"code": upper, "kind": "container", "container": await read_container(session, actor, container_id)}
    if rules.UNIT_CODE.fullmatch(upper):
        unit_id = await repository.unit_id_by_code(session, actor.tenant_id, upper)
        if unit_id is not None:
            return {"code": upper, "kind": "unit", "unit": (await unit_tree(session, actor, unit_id))[0]}
    sample = await samples_service.find_sample(session, actor, code)
    if sample is not None:
        placements = await _current_placements(session, actor, [sample])
        return {"code": code, "kind": "sample", "sample": sample_brief(sample), "placement": placements.get(sample.id)}
    raise CodeNotFound(f"Nothing here has the code {code!r}.", scanned=code)


# ---------------------------------------------------------------- labels


def _sample_label(sample: SampleRow, where: str | None = None) -> labels.Label:
    payload = sample.barcode or sample.human_id
    lines = [sample.human_id if sample.barcode is None else f"{sample.human_id}  {sample.barcode}", sample.name]
    lines.append(sample.sample_type.replace("_", " "))
    if where:
        lines.append(where)
    return labels.Label(payload, tuple(lines))


async def sample_labels(session: AsyncSession, actor: Actor, sample_ids: Sequence[uuid.UUID]) -> list[labels.Label]:
    """Labels for these samples, in the order given: barcode (or ID) as Code 128 and QR, ID and name."""
    found = {row.id: row for row in await samples_service.read_samples(session, actor, sample_ids)}
    missing = [sample_id for sample_id in sample_ids if sample_id not in found]
    if missing:
        raise SampleUnknown(f"No sample {missing[0]} here.", sample_ids=[str(sample_id) for sample_id in missing])
    return [_sample_label(found[sample_id]) for sample_id in sample_ids]


async def box_labels(session: AsyncSession, actor: Actor, container_id: uuid.UUID) -> list[labels.Label]:
    """The box's own label, then one per sample in it, position by position."""
    shown = await grid(session, actor, container_id)
    container = shown["container"]
    own = labels.Label(container["code"], (container["name"], container["path"]))
    samples = await samples_service.read_samples(
        session, actor, [cell["sample"]["id"] for cell in shown["cells"] if cell["sample"] is not None]
    )
    by_id = {row.id: row for row in samples}
    return [own] + [
        _sample_label(by_id[cell["sample"]["id"]], f"{container['name']} {cell['position']}")
        for cell in shown["cells"]
        if cell["sample"] is not None and cell["sample"]["id"] in by_id
    ]


async def container_label(session: AsyncSession, actor: Actor, container_id: uuid.UUID) -> labels.Label:
    container = await read_container(session, actor, container_id)
    return labels.Label(container["code"], (container["name"], container["path"]))


async def position_label(session: AsyncSession, actor: Actor, container_id: uuid.UUID, position: str) -> labels.Label:
    layout = await _layout(session, actor.tenant_id)
    target = _target(layout, container_id, position)
    code = rules.position_code(layout.containers[container_id].code, target.position)
    return labels.Label(code, (target.position, layout.path(container_id, target.position)))


async def sample_label(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> labels.Label:
    return (await sample_labels(session, actor, [sample_id]))[0]


# ---------------------------------------------------------------- rack scans


async def preview_rack_scan(session: AsyncSession, actor: Actor, container_id: uuid.UUID, content: bytes) -> Document:
    """Compare a rack reader's CSV with what the box should hold; lists every mismatch, changes nothing."""
    layout = await _layout(session, actor.tenant_id)
    container = _grid(layout, container_id)
    scan_result = rackscan.parse(content, container.rows, container.columns)
    now = utcnow()
    held = {row.position: row for row in await repository.placements_in(session, [container_id], now)}
    codes = [position.barcode for position in scan_result.positions if position.barcode is not None]
    tubes = await samples_service.find_samples(session, actor, codes)
    expected_ids = [row.sample_id for row in held.values() if row.sample_id is not None]
    expected = {row.id: row for row in await samples_service.read_samples(session, actor, expected_ids)}
    elsewhere = await _current_placements(session, actor, list(tubes.values()), layout)
    rows = []
    for scanned in scan_result.positions:
        holder = held.get(scanned.position)
        wanted = expected.get(holder.sample_id) if holder is not None and holder.sample_id is not None else None
        tube = tubes.get(scanned.barcode) if scanned.barcode is not None else None
        if scanned.unreadable:
            status = "unreadable"
        elif scanned.barcode is None:
            status = (
                "missing_tube" if wanted is not None and holder is not None and holder.state == "occupied" else "empty"
            )
        elif tube is None:
            status = "unknown_barcode"
        elif wanted is None:
            status = "unexpected_tube"
        elif wanted.id == tube.id:
            status = "match"
        else:
            status = "wrong_tube"
        current = elsewhere.get(tube.id) if tube is not None else None
        rows.append(
            {
                "row": scanned.row_number,
                "position": scanned.position,
                "barcode": scanned.barcode,
                "status": status,
                "found": sample_brief(tube) if tube is not None else None,
                "expected": sample_brief(wanted) if wanted is not None else None,
                "found_at": current["location"]["path"] if current is not None else None,
            }
        )
    return {
        "container_id": container_id,
        "rack_barcode": scan_result.rack_barcode,
        "scanned": len(rows),
        "token": _scan_token(content, held.values()),
        "rows": rows,
        "mismatches": [row for row in rows if row["status"] not in ("match", "empty")],
    }


async def confirm_rack_scan(
    session: AsyncSession, actor: Actor, container_id: uuid.UUID, content: bytes, token: str
) -> Document:
    """Make the box hold what the rack reader saw: place, move and remove tubes; unknown codes are skipped.

    ``token`` is the preview's: if the box changed since the preview was shown,
    nothing is applied and the scan must be previewed again.
    """
    preview = await preview_rack_scan(session, actor, container_id, content)
    if preview["token"] != token:
        raise PlacementChanged(
            "The box changed since this scan was previewed (or the file differs); preview it again.",
            container_id=str(container_id),
        )
    reason = "rack scan" + (f" of rack {preview['rack_barcode']}" if preview["rack_barcode"] else "")
    wanted = {row["position"]: row["found"]["id"] for row in preview["rows"] if row["found"] is not None}
    staying = set(wanted.values())
    # A tube the box expected that the reader saw nowhere in the rack has left it.
    gone = [
        row
        for row in preview["rows"]
        if row["status"] in ("missing_tube", "wrong_tube") and row["expected"]["id"] not in staying
    ]
    for row in gone:
        await remove(session, actor, row["expected"]["id"], f"{reason}: {row['position']} held another tube or none")
    stored = {
        row.sample_id: (row.container_id, row.position)
        for row in await repository.placement_rows_of_samples(session, list(staying))
        if row.tenant_id == actor.tenant_id
    }
    moves = [
        MoveItem(sample_id=sample_id, container_id=container_id, position=position)
        for position, sample_id in wanted.items()
        if sample_id in stored and stored[sample_id] != (container_id, position)
    ]
    if moves:
        await move(session, actor, moves, reason)
    arrivals = [(position, sample_id) for position, sample_id in wanted.items() if sample_id not in stored]
    for position, sample_id in arrivals:
        await place(
            session,
            actor,
            PlacementIn(sample_id=sample_id, container_id=container_id, position=position, reason=reason),
        )
    return {
        "container_id": container_id,
        "placed": len(arrivals),
        "moved": len(moves),
        "removed": len(gone),
        "skipped": [row for row in preview["rows"] if row["status"] in ("unknown_barcode", "unreadable")],
    }


def _scan_token(content: bytes, held: Iterable[Any]) -> str:
    state = sorted((row.position, str(row.sample_id), row.state, row.version) for row in held)
    digest = hashlib.sha256(content)
    digest.update(repr(state).encode())
    return digest.hexdigest()[:32]


async def position_from_scan(
    session: AsyncSession, actor: Actor, text: str, container_id: uuid.UUID
) -> tuple[uuid.UUID, str]:
    """The box and position a scanned position code names, or ``text`` as a position of ``container_id``."""
    upper = text.strip().upper()
    match = rules.POSITION_CODE.fullmatch(upper)
    if match is None:
        return container_id, upper
    found = await repository.container_id_by_code(session, actor.tenant_id, match.group(1))
    if found is None:
        raise CodeNotFound(f"No box here has the code {match.group(1)}.", scanned=text)
    return found, match.group(2)


async def free_disposed(
    session: AsyncSession, tenant_id: uuid.UUID, sample_id: uuid.UUID, *, reason: str | None, disposed_by: str
) -> None:
    """Free the position of a sample disposed outside storage, recording it in the sample's custody."""
    actor = Actor.system(tenant_id, display=f"{disposed_by} (disposal)")
    placements = await repository.placements_of_samples(session, tenant_id, [sample_id])
    if not placements:
        return
    samples = await samples_service.read_samples(session, actor, [sample_id])
    if not samples:
        return
    layout = await _layout(session, tenant_id)
    placement = placements[0]
    origin = layout.location(placement.container_id, placement.position)
    await session.delete(placement)
    await _flush_positions(session, layout, [])
    await _stage_custody(session, actor, [(StorageEvent.DISPOSED, samples[0], origin, None, reason)], utcnow())
