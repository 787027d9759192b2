"""Log-in, token refresh, log-out and web sessions.

These use cases open their own units of work instead of the request's: a
failed attempt answers 401 yet must stay in the audit trail and count toward
the lockout, so it commits on its own before the error is raised.

A password is checked in two steps: argon2 runs in a thread on what a read
session found, with no transaction open; then one short unit of work re-reads
the account under lock, records the outcome and, on success, issues the
credential. If the account changed in between, the check is repeated.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity import passwords, service, tokens
from seqtrack.identity import repository as repo
from seqtrack.identity.changes import record_event
from seqtrack.identity.errors import InvalidToken, LoginFailed
from seqtrack.identity.models import Membership, RefreshToken, Tenant, User, WebSession
from seqtrack.platform.actor import SYSTEM_TENANT_ID
from seqtrack.platform.database import Database
from seqtrack.platform.errors import InvalidInput
from seqtrack.platform.models import new_id, utcnow
from seqtrack.settings import Settings

# Concurrent first failures for one unknown e-mail may race for the same event version,
# and an account may change between its password check and the recording of the outcome.
ATTEMPTS_ON_CONFLICT = 3

T = TypeVar("T")


@dataclass(frozen=True)
class Authenticated:
    user_id: uuid.UUID
    email: str
    tenant_id: uuid.UUID
    tenant_slug: str
    role: str
    auth_time: datetime


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    tenant_slug: str


@dataclass(frozen=True)
class WebSessionGrant:
    session_token: str
    csrf_token: str
    expires_at: datetime
    tenant_slug: str


@dataclass(frozen=True)
class _Checked:
    """The outcome of argon2 for one attempt, computed outside any transaction."""

    # The hash the password was verified against; None when no account could be checked.
    password_hash: str | None
    matches: bool
    # The password hashed at today's cost, when the stored hash is of an older cost.
    new_hash: str | None = None


async def log_in(database: Database, email: str, password: str, tenant_slug: str | None) -> TokenPair:
    """Password → a short-lived access token and the first refresh token of a new family."""

    async def issue(session: AsyncSession, who: Authenticated) -> TokenPair:
        return await _issue_pair(session, database, who, family_id=new_id())

    return await _check_password(database, email, password, tenant_slug, then=issue)


async def open_web_session(database: Database, email: str, password: str, tenant_slug: str | None) -> WebSessionGrant:
    settings = database.settings

    async def open_session(session: AsyncSession, who: Authenticated) -> WebSessionGrant:
        now = utcnow()
        return _add_web_session(session, settings, who, now, now + timedelta(hours=settings.web_session_hours))

    return await _check_password(database, email, password, tenant_slug, then=open_session)


def _add_web_session(
    session: AsyncSession, settings: Settings, who: Authenticated, created_at: datetime, expires_at: datetime
) -> WebSessionGrant:
    token = tokens.new_opaque_token()
    session.add(
        WebSession(
            id=new_id(),
            tenant_id=who.tenant_id,
            user_id=who.user_id,
            token_hash=tokens.digest(token),
            created_at=created_at,
            expires_at=expires_at,
        )
    )
    return WebSessionGrant(
        session_token=token,
        csrf_token=tokens.csrf_token_for(settings, token),
        expires_at=expires_at,
        tenant_slug=who.tenant_slug,
    )


async def close_web_session(database: Database, session_token: str) -> None:
    async with database.write_session() as session:
        row = await session.scalar(select(WebSession).where(WebSession.token_hash == tokens.digest(session_token)))
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = utcnow()
        await service.bump_security_version(session, row.user_id)
        user = await session.get(User, row.user_id)
        await record_event(
            session,
            service.attempt_actor(user.email if user else "", row.tenant_id),
            "user.logged_out",
            row.user_id,
            data={"via": "web"},
            tenant_id=row.tenant_id,
        )


async def refresh(database: Database, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent and its successor issued.

    A spent token presented again means two parties hold the family, so the
    whole family is revoked, the newest link included.
    """
    reused = False
    async with database.write_session() as session:
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == tokens.digest(refresh_token)).with_for_update()
        )
        now = utcnow()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise InvalidToken("The refresh token is not valid; log in again.")
        if row.used_at is not None:
            await _revoke_family(session, row.family_id, row.user_id, now)
            await record_event(
                session,
                service.attempt_actor(await _email_of(session, row.user_id), row.tenant_id),
                "user.refresh_token_reused",
                row.user_id,
                data={"family_id": row.family_id},
                tenant_id=row.tenant_id,
            )
            reused = True
        else:
            who = await _still_allowed(session, row.user_id, row.tenant_id, row.auth_time)
            if who is None:
                await _revoke_family(session, row.family_id, row.user_id, now)
            else:
                row.used_at = now
                return await _issue_pair(session, database, who, family_id=row.family_id)
    if reused:
        raise InvalidToken("This refresh token was used before; every token of its log-in is revoked. Log in again.")
    raise InvalidToken("The account can no longer log in to this facility.")


async def log_out(database: Database, refresh_token: str) -> None:
    """End a log-in: its whole refresh family and the access tokens bound to it stop working."""
    async with database.write_session() as session:
        row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == tokens.digest(refresh_token)))
        if row is None:
            return
        revoked = await _revoke_family(session, row.family_id, row.user_id, utcnow())
        if revoked:
            await record_event(
                session,
                service.attempt_actor(await _email_of(session, row.user_id), row.tenant_id),
                "user.logged_out",
                row.user_id,
                data={"via": "token", "family_id": row.family_id},
                tenant_id=row.tenant_id,
            )


async def _check_password(
    database: Database,
    email: str,
    password: str,
    tenant_slug: str | None,
    *,
    then: Callable[[AsyncSession, Authenticated], Awaitable[T]],
) -> T:
    """Check the password, record the outcome, and on success run ``then`` in the same unit of work."""
    policy = service.LockoutPolicy.of(database.settings)
    cost = passwords.HashCost.of(database.settings)
    outcome: Authenticated | str = "failed"
    for attempt in range(ATTEMPTS_ON_CONFLICT):
        checked = await _verify_outside_any_transaction(database, email, password, cost)
        try:
            async with database.write_session() as session:
                outcome = await _attempt(session, email, tenant_slug, policy, checked)
                if isinstance(outcome, Authenticated):
                    return await then(session, outcome)
        except IntegrityError:
            if attempt == ATTEMPTS_ON_CONFLICT - 1:
                raise
            continue
        if outcome != "check_again":
            break
    raise LoginFailed()


async def _verify_outside_any_transaction(
    database: Database, email: str, password: str, cost: passwords.HashCost
) -> _Checked:
    """One argon2 verification whatever the account's state, so timing tells nothing."""
    async with database.read_session() as session:
        user = await repo.user_by_email(session, email)
        checkable = user is not None and user.status == "active" and not service.is_locked(user)
        password_hash = user.password_hash if user is not None and checkable else None
    if password_hash is None:
        await passwords.burn_verification(password, cost)
        return _Checked(password_hash=None, matches=False)
    matches = await passwords.verify_password(password_hash, password)
    new_hash = None
    if matches and passwords.needs_rehash(password_hash, cost):
        new_hash = await passwords.hash_password(password, cost)
    return _Checked(password_hash=password_hash, matches=matches, new_hash=new_hash)


async def _attempt(
    session: AsyncSession,
    email: str,
    tenant_slug: str | None,
    policy: service.LockoutPolicy,
    checked: _Checked,
) -> Authenticated | str:
    """Record one attempt's outcome on the account as it is now, locked against concurrent attempts."""
    user = await repo.user_by_email(session, email, for_update=True)
    if user is None:
        await record(
            session,
            DomainEvent(
                type="user.login_failed",
                aggregate_type="login_attempt",
                aggregate_id=service.attempt_aggregate_id(email),
                data={"via": "password", "reason": "unknown_account"},
            ),
            service.attempt_actor(email),
            tenant_id=SYSTEM_TENANT_ID,
        )
        return "failed"
    memberships = await repo.memberships_of(session, user.id)
    tenants = {tenant.id: tenant for tenant in await _tenants(session, memberships)}
    chosen = await _choose(session, user.id, memberships, tenants, tenant_slug)
    audit_tenant = chosen.tenant_id if chosen is not None else _first_tenant(memberships)

    async def refused(reason: str) -> str:
        await service.record_login_refused(session, user, tenant_id=audit_tenant, via="password", reason=reason)
        return "failed"

    if user.status != "active":
        return await refused("disabled")
    if service.is_locked(user):
        await service.record_refused_while_locked(session, user, tenant_id=audit_tenant, via="password")
        return "failed"
    if checked.password_hash != user.password_hash:
        # The password was checked against another state of the account (it was locked,
        # disabled or unknown then, or its password has changed since): check it again.
        return "check_again"
    if not checked.matches:
        await service.count_failed_password(session, user, tenant_id=audit_tenant, policy=policy, via="password")
        return "failed"
    if chosen is None:
        return await refused("not_a_member")
    if chosen.status != "active":
        return await refused("disabled_in_tenant")
    if tenants[chosen.tenant_id].status != "active":
        return await refused("tenant_inactive")
    now = utcnow()
    user.failed_logins = 0
    user.last_login_at = now
    chosen.last_login_at = now
    if checked.new_hash is not None:
        user.password_hash = checked.new_hash
    actor = service.user_actor(user, chosen)
    await record_event(session, actor, "user.logged_in", user.id, data={"via": "password"})
    return Authenticated(
        user_id=user.id,
        email=user.email,
        tenant_id=chosen.tenant_id,
        tenant_slug=tenants[chosen.tenant_id].slug,
        role=chosen.role,
        auth_time=now,
    )


async def _tenants(session: AsyncSession, memberships: list[Membership]) -> list[Tenant]:
    if not memberships:
        return []
    ids = [membership.tenant_id for membership in memberships]
    return list((await session.scalars(select(Tenant).where(Tenant.id.in_(ids)))).all())


async def _choose(
    session: AsyncSession,
    user_id: uuid.UUID,
    memberships: list[Membership],
    tenants: dict[uuid.UUID, Tenant],
    slug: str | None,
) -> Membership | None:
    """The membership a log-in opens: the named facility, else the one the account last worked in.

    Without a name and without a usable last facility, the oldest membership the account
    may still use; with none usable, the oldest, so the refusal says why.
    """
    if slug is not None:
        wanted = slug.strip().lower()
        return next((m for m in memberships if tenants[m.tenant_id].slug == wanted), None)
    if len(memberships) <= 1:
        return memberships[0] if memberships else None
    usable = [m for m in memberships if m.status == "active" and tenants[m.tenant_id].status == "active"]
    last_used = await repo.last_signed_in_tenant(session, user_id)
    return next((m for m in usable if m.tenant_id == last_used), None) or next(iter(usable), memberships[0])


def _first_tenant(memberships: list[Membership]) -> uuid.UUID:
    return memberships[0].tenant_id if memberships else SYSTEM_TENANT_ID


async def _still_allowed(
    session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID, auth_time: datetime
) -> Authenticated | None:
    found = await repo.member(session, tenant_id, user_id)
    tenant = await session.get(Tenant, tenant_id)
    if found is None or tenant is None or tenant.status != "active":
        return None
    user, membership = found
    # A password change ends every log-in made with the old password.
    stale = user.password_changed_at >= auth_time + tokens.AUTH_TIME_RESOLUTION
    if not service.is_active_member(user, membership) or stale:
        return None
    return Authenticated(
        user_id=user.id,
        email=user.email,
        tenant_id=tenant_id,
        tenant_slug=tenant.slug,
        role=membership.role,
        auth_time=auth_time,
    )


async def _issue_pair(session: AsyncSession, database: Database, who: Authenticated, family_id: uuid.UUID) -> TokenPair:
    settings = database.settings
    now = utcnow()
    refresh_token = tokens.new_opaque_token()
    refresh_expires_at = now + timedelta(days=settings.refresh_token_days)
    session.add(
        RefreshToken(
            tenant_id=who.tenant_id,
            user_id=who.user_id,
            family_id=family_id,
            token_hash=tokens.digest(refresh_token),
            issued_at=now,
            expires_at=refresh_expires_at,
            auth_time=who.auth_time,
        )
    )
    access_token, access_expires_at = tokens.issue_access_token(
        settings, user_id=who.user_id, tenant_id=who.tenant_id, auth_time=who.auth_time, session_family=family_id
    )
    return TokenPair(
        access_token=access_token,
        access_expires_at=access_expires_at,
        refresh_token=refresh_token,
        refresh_expires_at=refresh_expires_at,
        tenant_slug=who.tenant_slug,
    )


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    revoked = int(getattr(result, "rowcount", 0) or 0)
    if revoked:
        # Access tokens of this log-in stop working too, cached or not.
        await service.bump_security_version(session, user_id)
    return revoked


async def _email_of(session: AsyncSession, user_id: uuid.UUID) -> str:
    user = await session.get(User, user_id)
    return user.email if user is not None else ""


async def switch_web_session(database: Database, session_token: str, tenant_slug: str) -> WebSessionGrant:
    """Move a signed-in browser to another facility of the same account.

    The password was proved when the session opened; the new session in the other
    facility inherits that proof (and its expiry), and the old session ends.
    """
    now = utcnow()
    async with database.write_session() as session:
        current = await session.scalar(
            select(WebSession)
            .where(
                WebSession.token_hash == tokens.digest(session_token),
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
            )
            .with_for_update()
        )
        if current is None:
            raise InvalidToken("The session has ended; sign in again.")
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == tenant_slug.strip().lower()))
        who = None if tenant is None else await _still_allowed(session, current.user_id, tenant.id, current.created_at)
        if who is None:
            raise InvalidInput(
                "You are not an active member of that facility.",
                errors=[{"field": "tenant", "message": "not one of your facilities"}],
            )
        current.revoked_at = now
        grant = _add_web_session(session, database.settings, who, current.created_at, current.expires_at)
        found = await repo.member(session, who.tenant_id, who.user_id)
        assert found is not None  # _still_allowed just read this membership
        found[1].last_login_at = now
        await record_event(session, service.user_actor(*found), "user.logged_in", who.user_id, data={"via": "switch"})
    return grant
