"""The declarative base, shared column types and identifiers for every domain's tables."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from sqlalchemy import JSON, DateTime, Index, Integer, MetaData, String, Table, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware.

    SQLite has no time zone type and hands back naive values; without this a
    comparison between a stored and a fresh timestamp raises at run time.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; SeqTrack stores aware UTC timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Set only while loading past history (demo data): the writes inside happen "at" that time.
_HISTORIC_NOW: ContextVar[datetime | None] = ContextVar("seqtrack_historic_now", default=None)


def utcnow() -> datetime:
    return _HISTORIC_NOW.get() or datetime.now(UTC)


@contextmanager
def as_if_at(moment: datetime) -> Iterator[None]:
    """Stamp every write inside with ``moment`` instead of now: history told after the fact.

    Events, audit entries and rows all carry that time, so turnaround and due dates
    read as they would have; the audit chain's order is still the order of writing.
    """
    token = _HISTORIC_NOW.set(moment)
    try:
        yield
    finally:
        _HISTORIC_NOW.reset(token)


def new_id() -> uuid.UUID:
    """A UUIDv7: random enough to be unguessable, time-ordered so keyset pages and
    B-tree inserts stay cheap. (The standard library gains uuid7 in Python 3.14.)"""
    return new_ids(1)[0]


_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RAND_B = (1 << 62) - 1


def new_ids(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s at once (an import's rows), from one clock reading and one read of randomness."""
    unix_ms = time.time_ns() // 1_000_000
    head = ((unix_ms & ((1 << 48) - 1)) << 80) | _VERSION_AND_VARIANT
    random = os.urandom(10 * count)
    make = uuid.UUID
    ids = []
    for start in range(0, 10 * count, 10):
        rand = int.from_bytes(random[start : start + 10], "big")
        ids.append(make(int=head | (((rand >> 62) & 0xFFF) << 64) | (rand & _RAND_B)))
    return ids


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FacilityRecord(IdMixin, TimestampMixin, Base):
    """A facility's row that changes over time: each change bumps ``version`` (its ETag and its event's number)."""

    __abstract__ = True

    # First, as each table was created before the base class existed: create_all matches the migrations.
    tenant_id: Mapped[uuid.UUID] = mapped_column(sort_order=-1)
    version: Mapped[int]

    @classmethod
    def new(cls, tenant_id: uuid.UUID, *, version: int, **values: Any) -> Self:
        """A row not written yet, its id and both timestamps set now: an event staged before the flush names it."""
        now = utcnow()
        return cls(id=new_id(), tenant_id=tenant_id, version=version, created_at=now, updated_at=now, **values)


class FacilitySettings(Base):
    """A facility's rules for one domain: a row per tenant, the defaults until the first change saves them."""

    __abstract__ = True

    # The tenant id is also the settings' aggregate id and ETag.
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-1)
    version: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @classmethod
    def defaults(cls, tenant_id: uuid.UUID, **values: Any) -> Self:
        """The facility's settings before anyone changed them: version 0, not saved."""
        return cls(tenant_id=tenant_id, version=0, updated_at=utcnow(), **values)


class OptimisticLock:
    """The version column doubles as the optimistic lock: SQLAlchemy adds
    "AND version = <read version>" to every UPDATE and raises when no row matched."""

    version: Mapped[int]

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version, "version_id_generator": False}


def keyset_indexes(table: str, **columns: str) -> tuple[Index, ...]:
    """``ix_<table>_tenant_<name>`` on (tenant_id, column, id) for each list order or filter of a facility's rows;
    id comes last so a keyset page resumes inside the index."""
    return tuple(Index(f"ix_{table}_tenant_{name}", "tenant_id", column, "id") for name, column in columns.items())


def lookup_indexes(table: str, **columns: str) -> tuple[Index, ...]:
    """``ix_<table>_<name>`` on one column each: the foreign keys queries follow from the other side."""
    return tuple(Index(f"ix_{table}_{name}", column) for name, column in columns.items())


MAX_IDEMPOTENCY_KEY_LENGTH = 200


class IdempotencyKey(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "principal", "key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    tenant_id: Mapped[uuid.UUID]
    # Keys are per caller: two clients choosing the same key never see each other's answer.
    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(MAX_IDEMPOTENCY_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[Any | None] = mapped_column(JSON)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for bulk statements of plain values that skip the ORM's per-row work."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
