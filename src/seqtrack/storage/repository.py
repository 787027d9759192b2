"""Queries over storage: units, containers, placements, custody events. No rules, no writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.storage.models import Placement, Reservation, StorageContainer, StorageSettings, StorageUnit

_unit = StorageUnit.__table__.c
_container = StorageContainer.__table__.c
_placement = Placement.__table__.c

UNIT_COLUMNS = (
    _unit.id,
    _unit.code,
    _unit.name,
    _unit.kind,
    _unit.zone,
    _unit.building,
    _unit.room,
    _unit.version,
    _unit.created_at,
)
CONTAINER_COLUMNS = (
    _container.id,
    _container.unit_id,
    _container.parent_id,
    _container.code,
    _container.name,
    _container.kind,
    _container.rows,
    _container.columns,
    _container.version,
    _container.created_at,
)


def holds(now: datetime) -> Any:
    """Placements that hold their position now: a reservation past its expiry holds nothing."""
    return or_(_placement.state != "reserved", _placement.reserved_until > now)


async def units(session: AsyncSession, tenant_id: uuid.UUID) -> list[Any]:
    query = select(*UNIT_COLUMNS).where(_unit.tenant_id == tenant_id).order_by(_unit.name, _unit.id)
    return list((await session.execute(query)).all())


async def containers(session: AsyncSession, tenant_id: uuid.UUID) -> list[Any]:
    query = select(*CONTAINER_COLUMNS).where(_container.tenant_id == tenant_id).order_by(_container.name, _container.id)
    return list((await session.execute(query)).all())


async def unit(session: AsyncSession, tenant_id: uuid.UUID, unit_id: uuid.UUID) -> StorageUnit | None:
    found = await session.get(StorageUnit, unit_id)
    return found if found is not None and found.tenant_id == tenant_id else None


async def container(session: AsyncSession, tenant_id: uuid.UUID, container_id: uuid.UUID) -> StorageContainer | None:
    found = await session.get(StorageContainer, container_id)
    return found if found is not None and found.tenant_id == tenant_id else None


async def container_id_by_code(session: AsyncSession, tenant_id: uuid.UUID, code: str) -> uuid.UUID | None:
    query = select(_container.id).where(_container.tenant_id == tenant_id, _container.code == code)
    found: uuid.UUID | None = await session.scalar(query)
    return found


async def unit_id_by_code(session: AsyncSession, tenant_id: uuid.UUID, code: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await session.scalar(
        select(_unit.id).where(_unit.tenant_id == tenant_id, _unit.code == code)
    )
    return found


async def placements_in(session: AsyncSession, container_ids: Sequence[uuid.UUID], now: datetime) -> list[Any]:
    """What holds positions in these containers now, as plain rows."""
    if not container_ids:
        return []
    query = (
        select(Placement.__table__)
        .where(_placement.container_id.in_(list(container_ids)), holds(now))
        .order_by(_placement.container_id, _placement.row_index, _placement.column_index)
    )
    return list((await session.execute(query)).all())


async def placement_rows_of_samples(session: AsyncSession, sample_ids: Sequence[uuid.UUID]) -> list[Any]:
    if not sample_ids:
        return []
    query = select(Placement.__table__).where(_placement.sample_id.in_(list(sample_ids)))
    return list((await session.execute(query)).all())


async def placements_of_samples(
    session: AsyncSession, tenant_id: uuid.UUID, sample_ids: Sequence[uuid.UUID]
) -> list[Placement]:
    """The placements to change, locked against concurrent moves (PostgreSQL; SQLite has one writer)."""
    query = (
        select(Placement)
        .where(Placement.tenant_id == tenant_id, Placement.sample_id.in_(list(sample_ids)))
        .with_for_update()
    )
    return list(await session.scalars(query))


async def placements_at(
    session: AsyncSession, targets: Sequence[tuple[uuid.UUID, str]], now: datetime
) -> list[Placement]:
    """Placements holding any of these (container, position) pairs now."""
    if not targets:
        return []
    containers_wanted = {container_id for container_id, _ in targets}
    query = select(Placement).where(Placement.container_id.in_(list(containers_wanted)), holds(now))
    wanted = set(targets)
    return [found for found in await session.scalars(query) if (found.container_id, found.position) in wanted]


async def drop_expired_reservations(
    session: AsyncSession, targets: Sequence[tuple[uuid.UUID, str]], now: datetime
) -> None:
    """Free positions whose reservation has expired, so a placement may take them."""
    containers_wanted = list({container_id for container_id, _ in targets})
    if not containers_wanted:
        return
    await session.execute(
        delete(Placement)
        .where(
            Placement.container_id.in_(containers_wanted),
            Placement.state == "reserved",
            Placement.reserved_until <= now,
        )
        .execution_options(synchronize_session=False)
    )


async def counts_by_container(session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> list[Any]:
    """(container_id, state, count) of what holds positions now."""
    query = (
        select(_placement.container_id, _placement.state, func.count())
        .where(_placement.tenant_id == tenant_id, holds(now))
        .group_by(_placement.container_id, _placement.state)
    )
    return list((await session.execute(query)).all())


async def zone_capacity(session: AsyncSession, tenant_id: uuid.UUID | None) -> list[Any]:
    """(tenant_id, zone, positions) over every grid container; all tenants when ``tenant_id`` is None."""
    query = (
        select(_unit.tenant_id, _unit.zone, func.sum(_container.rows * _container.columns))
        .select_from(StorageContainer.__table__.join(StorageUnit.__table__, _container.unit_id == _unit.id))
        .where(_container.rows.is_not(None))
        .group_by(_unit.tenant_id, _unit.zone)
    )
    if tenant_id is not None:
        query = query.where(_unit.tenant_id == tenant_id)
    return list((await session.execute(query)).all())


async def zone_usage(session: AsyncSession, tenant_id: uuid.UUID | None, now: datetime) -> list[Any]:
    """(tenant_id, zone, held positions) now; all tenants when ``tenant_id`` is None."""
    query = (
        select(_unit.tenant_id, _unit.zone, func.count())
        .select_from(
            Placement.__table__.join(StorageContainer.__table__, _placement.container_id == _container.id).join(
                StorageUnit.__table__, _container.unit_id == _unit.id
            )
        )
        .where(holds(now))
        .group_by(_unit.tenant_id, _unit.zone)
    )
    if tenant_id is not None:
        query = query.where(_unit.tenant_id == tenant_id)
    return list((await session.execute(query)).all())


async def checked_out(session: AsyncSession, tenant_id: uuid.UUID) -> list[Any]:
    query = (
        select(Placement.__table__)
        .where(_placement.tenant_id == tenant_id, _placement.state == "checked_out")
        .order_by(_placement.due_back_at, _placement.id)
    )
    return list((await session.execute(query)).all())


async def reservation(session: AsyncSession, tenant_id: uuid.UUID, reservation_id: uuid.UUID) -> Reservation | None:
    found = await session.get(Reservation, reservation_id)
    return found if found is not None and found.tenant_id == tenant_id else None


async def reserved_positions(session: AsyncSession, reservation_id: uuid.UUID) -> list[Placement]:
    query = select(Placement).where(Placement.reservation_id == reservation_id, Placement.state == "reserved")
    return list(
        await session.scalars(query.order_by(Placement.container_id, Placement.row_index, Placement.column_index))
    )


async def settings(session: AsyncSession, tenant_id: uuid.UUID) -> StorageSettings | None:
    found: StorageSettings | None = await session.get(StorageSettings, tenant_id)
    return found
