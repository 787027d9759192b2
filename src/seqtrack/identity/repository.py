"""Identity queries. Tenant-owned rows are reached only through a tenant scope."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.models import (
    ApiKey,
    Lab,
    LabMember,
    Membership,
    PasswordReset,
    RefreshToken,
    Tenant,
    User,
    WebSession,
)

__all__ = ["ApiKey", "Lab", "LabMember", "Membership", "Tenant", "User"]
from seqtrack.platform import crypto
from seqtrack.platform.database import database_of
from seqtrack.platform.tenancy import TenantRef, TenantScope, tenant_id_of, tenant_select


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return await session.scalar(select(Tenant).where(Tenant.slug == slug.strip().lower()))


def email_index(session: AsyncSession, email: str) -> str:
    """The blind index of an address under this installation's index key (e-mails are stored encrypted)."""
    database = database_of(session)
    keyring = database.keyring if database is not None else crypto.installed()
    return keyring.blind_index(normalise_email(email))


async def user_by_email(session: AsyncSession, email: str, *, for_update: bool = False) -> User | None:
    statement = select(User).where(User.email_index == email_index(session, email))
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def user_for_update(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.scalar(
        select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    )


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def memberships_of(session: AsyncSession, user_id: uuid.UUID) -> list[Membership]:
    statement = select(Membership).where(Membership.user_id == user_id).order_by(Membership.created_at)
    return list((await session.scalars(statement)).all())


async def tenants_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[Tenant]:
    """The facilities where ``user_id`` has a role, oldest membership first, in one query."""
    statement = (
        select(Tenant)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at)
    )
    return list((await session.scalars(statement)).all())


async def last_signed_in_tenant(session: AsyncSession, user_id: uuid.UUID) -> uuid.UUID | None:
    """The facility of the account's newest refresh token or web session: where it last worked."""
    newest_token = (
        select(RefreshToken.tenant_id, RefreshToken.issued_at.label("at"))
        .where(RefreshToken.user_id == user_id)
        .order_by(RefreshToken.issued_at.desc())
        .limit(1)
    )
    newest_session = (
        select(WebSession.tenant_id, WebSession.created_at.label("at"))
        .where(WebSession.user_id == user_id)
        .order_by(WebSession.created_at.desc())
        .limit(1)
    )
    found = [row for query in (newest_token, newest_session) for row in (await session.execute(query)).all()]
    return max(found, key=lambda row: row.at).tenant_id if found else None


async def membership(session: AsyncSession, tenant: TenantRef, user_id: uuid.UUID) -> Membership | None:
    return await session.scalar(tenant_select(Membership, tenant).where(Membership.user_id == user_id))


async def member(
    session: AsyncSession, tenant: TenantRef, user_id: uuid.UUID, *, for_update: bool = False
) -> tuple[User, Membership] | None:
    """A user as a member of one tenant; a user of another tenant is not found."""
    statement = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id_of(tenant), User.id == user_id)
    )
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(statement)).one_or_none()
    return (row[0], row[1]) if row is not None else None


async def members(session: AsyncSession, tenant: TenantRef) -> list[tuple[User, Membership]]:
    rows = await session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id_of(tenant))
    )
    # Sorted here: the database holds only ciphertext, whose order means nothing.
    return sorted(((user, membership) for user, membership in rows.all()), key=lambda pair: pair[0].email)


async def belongs_elsewhere(session: AsyncSession, tenant: TenantRef, user_id: uuid.UUID) -> bool:
    """Whether the account is a member of any facility besides this one."""
    statement = select(Membership.id).where(Membership.user_id == user_id, Membership.tenant_id != tenant_id_of(tenant))
    return await session.scalar(statement.limit(1)) is not None


async def members_with_labs(
    session: AsyncSession, tenant: TenantRef
) -> list[tuple[User, Membership, frozenset[uuid.UUID]]]:
    """Every member of the tenant with their labs there, in one query whatever the headcount."""
    tenant_id = tenant_id_of(tenant)
    rows = await session.execute(
        select(User, Membership, LabMember.lab_id)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(LabMember, (LabMember.user_id == User.id) & (LabMember.tenant_id == tenant_id))
        .where(Membership.tenant_id == tenant_id)
    )
    found: dict[uuid.UUID, tuple[User, Membership, set[uuid.UUID]]] = {}
    for user, membership, lab_id in rows.all():
        labs = found.setdefault(user.id, (user, membership, set()))[2]
        if lab_id is not None:
            labs.add(lab_id)
    # Sorted here: the database holds only ciphertext, whose order means nothing.
    listed = sorted(found.values(), key=lambda member: member[0].email)
    return [(user, membership, frozenset(labs)) for user, membership, labs in listed]


async def member_names(session: AsyncSession, tenant: TenantRef, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(User.id, User.display_name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id_of(tenant), User.id.in_(user_ids))
    )
    return {row.id: row.display_name for row in rows}


async def count_active_admins(session: AsyncSession, tenant: TenantRef) -> int:
    statement = (
        select(func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.tenant_id == tenant_id_of(tenant),
            Membership.role == "admin",
            Membership.status == "active",
            User.status == "active",
        )
    )
    return int(await session.scalar(statement) or 0)


async def lab_ids_of(session: AsyncSession, tenant: TenantRef, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    statement = tenant_select(LabMember, tenant).where(LabMember.user_id == user_id)
    return frozenset(row.lab_id for row in (await session.scalars(statement)).all())


async def lab_members(session: AsyncSession, tenant: TenantRef, user_id: uuid.UUID) -> list[LabMember]:
    statement = tenant_select(LabMember, tenant).where(LabMember.user_id == user_id)
    return list((await session.scalars(statement)).all())


def labs(session: AsyncSession, tenant: TenantRef) -> TenantScope[Lab]:
    return TenantScope(session, Lab, tenant)


def api_keys(session: AsyncSession, tenant: TenantRef) -> TenantScope[ApiKey]:
    return TenantScope(session, ApiKey, tenant)


async def api_key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    # Unscoped on purpose: the key itself says which tenant the request belongs to.
    return await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


async def end_logins(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    """Every refresh token and browser session of ``user_id`` stops working."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None)).values(revoked_at=now)
    )


async def password_reset_by_hash(
    session: AsyncSession, token_hash: str, *, for_update: bool = False
) -> PasswordReset | None:
    statement = select(PasswordReset).where(PasswordReset.token_hash == token_hash)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


async def retire_password_resets(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    """Links of ``user_id`` still unused stop working: only the newest one, or none after a reset."""
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
