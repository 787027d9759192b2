"""Getting back into an account: "forgot password" links sent by e-mail, and an admin lifting a lockout.

A reset link carries a token that is good once and for
``password_reset_minutes``. The database keeps only its SHA-256. The token
itself is an HMAC of the reset's id under a key derived from the installation
secret, so the e-mail job can be queued with the id alone and work out the link
when it sends: no table, job row, event or log line ever holds the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import passwords, tokens
from seqtrack.identity import repository as repo
from seqtrack.identity.actor import Actor
from seqtrack.identity.changes import record_event
from seqtrack.identity.errors import ResetLinkInvalid
from seqtrack.identity.models import Membership, PasswordReset, User
from seqtrack.identity.service import attempt_actor, bump_security_version, get_member, is_locked
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id, utcnow
from seqtrack.settings import Settings

RESET_PURPOSE = "password-reset"
RESET_REQUESTED = "user.password_reset_requested"
RESET_PATH = "/reset-password"


def reset_token(settings: Settings, reset_id: uuid.UUID) -> str:
    mac = hmac.new(tokens.purpose_key(settings, RESET_PURPOSE), reset_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def reset_link(settings: Settings, reset_id: uuid.UUID) -> str:
    return f"{settings.site_url}{RESET_PATH}?token={reset_token(settings, reset_id)}"


async def _home_tenant(session: AsyncSession, user: User) -> uuid.UUID | None:
    """The facility whose trail records this account's own recovery: its first active membership."""
    if user.status != "active":
        return None
    for membership in await repo.memberships_of(session, user.id):
        if membership.status == "active":
            return membership.tenant_id
    return None


async def request_password_reset(database: Database, email: str) -> None:
    """Queue a reset link to ``email`` if it belongs to an account that may sign in; otherwise nothing.

    The caller answers the same either way, so nobody learns which e-mails have accounts.
    """
    settings = database.settings
    async with database.write_session() as session:
        user = await repo.user_by_email(session, email, for_update=True)
        tenant_id = await _home_tenant(session, user) if user is not None else None
        if user is None or tenant_id is None:
            return
        now = utcnow()
        # A new link replaces any earlier one still unused: only the latest e-mail works.
        await repo.retire_password_resets(session, user.id, now)
        reset_id = new_id()
        reset = PasswordReset(
            id=reset_id,
            user_id=user.id,
            token_hash=tokens.digest(reset_token(settings, reset_id)),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.password_reset_minutes),
        )
        session.add(reset)
        await session.flush()
        await record_event(
            session,
            attempt_actor(user.email, tenant_id),
            RESET_REQUESTED,
            user.id,
            data={"reset_id": reset.id, "expires_at": reset.expires_at},
            tenant_id=tenant_id,
        )


@dataclass(frozen=True)
class ResetMail:
    to: str
    link: str
    minutes: int


async def reset_mail(session: AsyncSession, settings: Settings, reset_id: uuid.UUID) -> ResetMail | None:
    """The e-mail for reset ``reset_id``, or None once it can no longer be used (nothing to send)."""
    reset = await session.get(PasswordReset, reset_id)
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    user = await session.get(User, reset.user_id)
    if user is None or await _home_tenant(session, user) is None:
        return None
    return ResetMail(to=user.email, link=reset_link(settings, reset_id), minutes=settings.password_reset_minutes)


def _refused() -> ResetLinkInvalid:
    return ResetLinkInvalid(
        "This password reset link is not valid: it was used already, has expired, or was replaced by a newer one. "
        "Ask for a new link.",
        errors=[{"field": "token", "message": "not a valid reset link"}],
    )


async def check_reset_token(database: Database, token: str) -> User:
    """The account a reset link is for, if it can still be used."""
    async with database.read_session() as session:
        reset = await repo.password_reset_by_hash(session, tokens.digest(token))
        if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
            raise _refused()
        user = await session.get(User, reset.user_id)
        if user is None or await _home_tenant(session, user) is None:
            raise _refused()
        return user


async def reset_password(database: Database, token: str, new_password: str) -> None:
    """Set a new password with a reset link; the link is spent and every log-in of the account ends.

    The slow argon2 hash runs before the unit of work opens; inside it the link
    is checked again under a row lock, so two uses racing each other cannot both win.
    """
    user = await check_reset_token(database, token)
    passwords.check_password_rules(new_password, email=user.email, field="new_password")
    new_hash = await passwords.hash_password(new_password, passwords.HashCost.of(database.settings))
    async with database.write_session() as session:
        reset = await repo.password_reset_by_hash(session, tokens.digest(token), for_update=True)
        now = utcnow()
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise _refused()
        account = await repo.user_for_update(session, reset.user_id)
        tenant_id = await _home_tenant(session, account) if account is not None else None
        if account is None or tenant_id is None:
            raise _refused()
        reset.used_at = now
        await repo.retire_password_resets(session, account.id, now)
        was_locked = is_locked(account, now)
        account.password_hash = new_hash
        account.password_changed_at = now
        account.updated_at = now
        # Whoever reads the account's mail owns it; the lock only guarded the old password against guessing.
        account.failed_logins = 0
        account.locked_until = None
        await repo.end_logins(session, account.id, now)
        await session.flush()
        await bump_security_version(session, account.id)
        await record_event(
            session,
            Actor(
                tenant_id=tenant_id,
                kind="user",
                principal_id=account.id,
                user_id=account.id,
                display=account.email,
                permissions=frozenset(),
            ),
            "user.password_reset",
            account.id,
            data={"reset_id": reset.id, "was_locked": was_locked},
            tenant_id=tenant_id,
        )


async def unlock_user(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> tuple[User, Membership]:
    """Lift a lockout before it runs out, e.g. once the person has been reached by phone."""
    user, membership = await get_member(session, actor, user_id, for_update=True)
    if not is_locked(user):
        return user, membership
    locked_until = user.locked_until
    user.locked_until = None
    user.failed_logins = 0
    user.updated_at = utcnow()
    await session.flush()
    await bump_security_version(session, user.id)
    await record_event(session, actor, "user.unlocked", user.id, changes={"locked_until": (locked_until, None)})
    return user, membership
