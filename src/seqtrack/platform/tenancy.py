"""Tenant scoping every domain uses: a query built here cannot forget the tenant filter.

Every tenant-owned table has a ``tenant_id`` column. Repositories build their
queries from :func:`tenant_select` or :class:`TenantScope` instead of a bare
``select``, so the caller's tenant is part of each statement. An object of
another tenant is then simply not found (404), never "forbidden" (403): a
caller learns nothing about other facilities, not even that an id exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.models import Base

M = TypeVar("M", bound=Base)


class HasTenant(Protocol):
    @property
    def tenant_id(self) -> uuid.UUID: ...


class Caller(HasTenant, Protocol):
    """What platform code needs to know of whoever makes a request (identity's ``Actor`` is one)."""

    @property
    def kind(self) -> str: ...

    @property
    def principal_id(self) -> uuid.UUID | None: ...

    @property
    def display(self) -> str: ...


TenantRef = uuid.UUID | HasTenant


def tenant_id_of(tenant: TenantRef) -> uuid.UUID:
    """The tenant id of an actor (or anything with ``tenant_id``), or the id itself."""
    return tenant if isinstance(tenant, uuid.UUID) else tenant.tenant_id


def tenant_column(model: type[Base]) -> ColumnElement[uuid.UUID]:
    column: Any = getattr(model, "tenant_id", None)
    if column is None:
        raise TypeError(f"{model.__name__} has no tenant_id column: it is not tenant-owned")
    return column  # type: ignore[no-any-return]  # an InstrumentedAttribute found by name


def tenant_filter(model: type[Base], tenant: TenantRef) -> ColumnElement[bool]:
    return tenant_column(model) == tenant_id_of(tenant)


def tenant_select(model: type[M], tenant: TenantRef) -> Select[M]:
    """``select(model)`` already narrowed to one tenant; add further ``where`` clauses to it."""
    return select(model).where(tenant_filter(model, tenant))


class TenantScope(Generic[M]):
    """The rows of one tenant-owned model that one tenant may see; the base of a repository."""

    def __init__(self, session: AsyncSession, model: type[M], tenant: TenantRef) -> None:
        self.session = session
        self.model = model
        self.tenant_id = tenant_id_of(tenant)

    def select(self) -> Select[M]:
        return tenant_select(self.model, self.tenant_id)

    async def get(self, id: uuid.UUID, *, for_update: bool = False) -> M | None:
        identity: Any = getattr(self.model, "id")  # noqa: B009  # every scoped model has an id column
        statement = self.select().where(identity == id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def list(self, *where: ColumnElement[bool], order_by: Sequence[Any] = ()) -> list[M]:
        statement = self.select().where(*where).order_by(*order_by)
        return list((await self.session.scalars(statement)).all())

    def add(self, row: M) -> M:
        """Add a new row, refusing one that names another tenant."""
        row_tenant = getattr(row, "tenant_id", None)
        if row_tenant is None:
            setattr(row, "tenant_id", self.tenant_id)  # noqa: B010  # not every M declares tenant_id
        elif row_tenant != self.tenant_id:
            raise ValueError(f"{self.model.__name__} of another tenant cannot be added in this scope")
        self.session.add(row)
        return row
