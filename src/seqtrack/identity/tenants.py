"""Facilities (tenants): created, found by slug, renamed and configured."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import repository as repo
from seqtrack.identity.accounts import SLUG
from seqtrack.identity.changes import assign, record_changes, record_event
from seqtrack.identity.errors import (
    SlugTaken,
    TenantNotFound,
)
from seqtrack.identity.models import Tenant
from seqtrack.identity.schemas import TenantOut
from seqtrack.platform.actor import Actor
from seqtrack.platform.errors import InvalidInput
from seqtrack.platform.etag import check_representation_if_match
from seqtrack.platform.models import new_id


def check_slug(slug: str, field: str = "slug") -> str:
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise InvalidInput(
            "A tenant slug is 1-63 lower-case letters, digits and inner hyphens.",
            errors=[{"field": field, "message": "not a valid slug"}],
        )
    return slug


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    """The facility an operator names on the command line; :class:`TenantNotFound` naming the slug otherwise."""
    tenant = await repo.tenant_by_slug(session, slug.strip().lower())
    if tenant is None:
        raise TenantNotFound(f"No facility with slug '{slug}'.", slug=slug)
    return tenant


async def create_tenant(session: AsyncSession, slug: str, name: str, actor: Actor) -> Tenant:
    slug = check_slug(slug)
    if await repo.tenant_by_slug(session, slug) is not None:
        raise SlugTaken(f"A tenant with slug '{slug}' exists already.", slug=slug)
    tenant = Tenant(id=new_id(), slug=slug, name=name.strip() or slug, status="active", settings={})
    session.add(tenant)
    await session.flush()
    await record_event(
        session, actor, "tenant.created", tenant.id, data={"slug": slug, "name": tenant.name}, tenant_id=tenant.id
    )
    return tenant


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID, *, for_update: bool = False) -> Tenant:
    tenant = await session.get(Tenant, tenant_id, with_for_update=for_update, populate_existing=for_update)
    if tenant is None:
        raise TenantNotFound("No such tenant.")
    return tenant


async def tenants_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[Tenant]:
    """The active facilities where ``user_id`` has a role: theirs to see, nobody else's."""
    return [tenant for tenant in await repo.tenants_of_user(session, user_id) if tenant.status == "active"]


async def update_tenant(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    if_match: str | None = "*",
) -> Tenant:
    """Rename the facility or change its display settings, if it is still as the caller read it (``if_match``)."""
    tenant = await get_tenant(session, actor.tenant_id, for_update=True)
    check_representation_if_match(if_match, TenantOut.model_validate(tenant))
    changes = assign(tenant, name=name.strip() if name is not None else None, settings=settings)
    await record_changes(session, actor, tenant, changes, aggregate_type="tenant")
    return tenant
