"""What an account is now: active or locked, its security version, and who an attempt claims to be."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import callers
from seqtrack.identity import repository as repo
from seqtrack.identity.models import Membership, User
from seqtrack.platform import crypto
from seqtrack.platform.actor import SYSTEM_TENANT_ID, Actor
from seqtrack.platform.database import after_commit, database_of
from seqtrack.platform.models import utcnow
from seqtrack.platform.permissions import Role, permissions_for
from seqtrack.settings import Settings, get_settings

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


# Failed attempts on e-mails without an account chain under a stable id per e-mail.
LOGIN_ATTEMPT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://seqtrack.dev/identity/login-attempts")


DISPLAY_LIMIT = 200


_BUMPED = "identity.security_versions"


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    lockout: timedelta

    @classmethod
    def of(cls, settings: Settings) -> LockoutPolicy:
        return cls(settings.login_max_failures, timedelta(minutes=settings.login_lockout_minutes))


def settings_of(session: AsyncSession) -> Settings:
    database = database_of(session)
    return database.settings if database is not None else get_settings()


def attempt_aggregate_id(email: str) -> uuid.UUID:
    # From the keyed blind index, not the address: a plain hash of an address can be reversed by guessing.
    return uuid.uuid5(LOGIN_ATTEMPT_NAMESPACE, crypto.installed().blind_index(repo.normalise_email(email)))


def attempt_actor(email: str, tenant_id: uuid.UUID = SYSTEM_TENANT_ID) -> Actor:
    """Who an unauthenticated attempt claims to be: recorded, never trusted."""
    return Actor(
        tenant_id=tenant_id,
        kind="system",
        principal_id=None,
        # Masked: failed attempts are evidence kept forever, an address typed there is personal data.
        display=crypto.mask_email(email)[:DISPLAY_LIMIT] if email.strip() else "(no e-mail)",
        permissions=frozenset(),
    )


def user_actor(user: User, membership: Membership, lab_ids: frozenset[uuid.UUID] = frozenset()) -> Actor:
    role = Role(membership.role)
    return Actor(
        tenant_id=membership.tenant_id,
        kind="user",
        principal_id=user.id,
        user_id=user.id,
        # The name, not the address: whatever an actor does is written to the audit trail for good.
        display=user.display_name,
        role=role,
        permissions=permissions_for(role),
        lab_ids=lab_ids,
    )


def is_active_member(user: User, membership: Membership) -> bool:
    return user.status == "active" and membership.status == "active"


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


async def bump_security_version(session: AsyncSession, *user_ids: uuid.UUID) -> None:
    """These accounts' credentials now mean something else: every cached caller of them is stale.

    Once the unit of work commits, every api process drops those callers
    (``identity/callers.py``); nothing is announced if it rolls back.
    """
    result = await session.execute(
        update(User)
        .where(User.id.in_(user_ids))
        .values(security_version=User.security_version + 1)
        .returning(User.id, User.security_version)
        .execution_options(synchronize_session=False)
    )
    bumped: dict[uuid.UUID, int] = session.info.setdefault(_BUMPED, {})
    for user_id, version in result.all():
        bumped[user_id] = max(version, bumped.get(user_id, version))
    settings = settings_of(session)

    async def announce() -> None:
        await callers.announce(settings, bumped)

    after_commit(session, _BUMPED, announce)
