"""Passwords in use: failed attempts and lockout, signature checks, and changing one's password."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import passwords, users
from seqtrack.identity import repository as repo
from seqtrack.identity.accounts import LockoutPolicy, attempt_actor, bump_security_version, is_active_member, is_locked
from seqtrack.identity.changes import record_event
from seqtrack.identity.errors import (
    WrongPassword,
)
from seqtrack.identity.models import User
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow


async def count_failed_password(
    session: AsyncSession,
    user: User,
    *,
    tenant_id: uuid.UUID,
    policy: LockoutPolicy,
    via: str,
) -> None:
    """One more wrong password for ``user``; the one that reaches the limit locks the account.

    ``user`` must be loaded ``FOR UPDATE`` so concurrent failures count one by one.
    """
    now = utcnow()
    user.failed_logins += 1
    actor = attempt_actor(user.email, tenant_id)
    await record_event(
        session,
        actor,
        "user.login_failed",
        user.id,
        data={"via": via, "failed_logins": user.failed_logins},
        tenant_id=tenant_id,
    )
    if user.failed_logins >= policy.max_failures:
        user.locked_until = now + policy.lockout
        await record_event(
            session,
            actor,
            "user.locked_out",
            user.id,
            data={"failed_logins": user.failed_logins, "locked_until": user.locked_until},
            tenant_id=tenant_id,
        )
        # The next lock needs a fresh run of failures once this one expires.
        user.failed_logins = 0
        await session.flush()
        await bump_security_version(session, user.id)
    await session.flush()


async def record_login_refused(
    session: AsyncSession, user: User, *, tenant_id: uuid.UUID, via: str, reason: str, **details: Any
) -> None:
    """An attempt on an existing account refused for ``reason`` whatever its password: recorded, never trusted."""
    await record_event(
        session,
        attempt_actor(user.email, tenant_id),
        "user.login_refused",
        user.id,
        data={"via": via, "reason": reason, **details},
        tenant_id=tenant_id,
    )


async def record_refused_while_locked(session: AsyncSession, user: User, *, tenant_id: uuid.UUID, via: str) -> None:
    await record_login_refused(
        session, user, tenant_id=tenant_id, via=via, reason="locked", locked_until=user.locked_until
    )


@dataclass(frozen=True)
class _CheckedPassword:
    email: str
    password_hash: str


async def check_signature(database: Database, actor: Actor, password: str) -> bool:
    """Re-authentication for an electronic signature; call it before the signing unit of work.

    True only if ``actor`` is an active, unlocked user of its tenant and
    ``password`` is their current password. argon2 runs in a thread with no
    transaction open and no writer turn held. A wrong password counts toward the
    lockout like a failed log-in, and a refusal of a locked account is audited,
    each in a short unit of work of its own, committed whatever the caller does next.
    """
    return await _password_holder(database, actor, password) is not None


async def _password_holder(database: Database, actor: Actor, password: str) -> _CheckedPassword | None:
    settings = database.settings
    cost = passwords.HashCost.of(settings)
    if actor.kind != "user" or actor.user_id is None:
        await passwords.burn_verification(password, cost)
        return None
    user_id = actor.user_id
    async with database.read_session() as session:
        found = await repo.member(session, actor, user_id)
        user = found[0] if found is not None and is_active_member(*found) else None
    if user is None:
        await passwords.burn_verification(password, cost)
        return None
    if is_locked(user):
        await passwords.burn_verification(password, cost)
        async with database.write_session() as session:
            locked = await repo.user_for_update(session, user_id)
            if locked is not None:
                await record_refused_while_locked(session, locked, tenant_id=actor.tenant_id, via="signature")
        return None
    checked = _CheckedPassword(email=user.email, password_hash=user.password_hash)
    if await passwords.verify_password(checked.password_hash, password):
        if user.failed_logins:
            async with database.write_session() as session:
                again = await repo.user_for_update(session, user_id)
                if again is not None and again.password_hash == checked.password_hash:
                    again.failed_logins = 0
        return checked
    async with database.write_session() as session:
        again = await repo.user_for_update(session, user_id)
        if again is not None and not is_locked(again):
            policy = LockoutPolicy.of(settings)
            await count_failed_password(session, again, tenant_id=actor.tenant_id, policy=policy, via="signature")
    return None


async def change_own_profile(
    database: Database,
    actor: Actor,
    *,
    display_name: str | None,
    email: str | None,
    current_password: str | None,
) -> User:
    """A person renames themselves or moves their account to another e-mail (which needs their password)."""
    if email is not None:
        async with database.read_session() as session:
            # The address they have already (a form sends it back unchanged) needs no password.
            if repo.normalise_email(email) == (await users.own_profile(session, actor)).email:
                email = None
    # argon2 runs before the unit of work, as for a password change.
    if email is not None and (
        current_password is None or await _password_holder(database, actor, current_password) is None
    ):
        raise WrongPassword("The current password is needed to change the e-mail.", field="current_password")
    async with database.write_session() as session:
        return await users.update_own_profile(session, actor, display_name=display_name, email=email)


async def change_password(database: Database, actor: Actor, current_password: str, new_password: str) -> None:
    """A user replaces their password; every log-in made with the old one ends.

    Both argon2 steps (checking the current password, hashing the new one) run
    before the unit of work, so no transaction or writer turn waits on them.
    """
    if actor.kind != "user" or actor.user_id is None:
        raise WrongPassword("Only a person logged in with a password can change it.")
    checked = await _password_holder(database, actor, current_password)
    if checked is None:
        raise WrongPassword("The current password is not right.", field="current_password")
    passwords.check_password_rules(new_password, email=checked.email, field="new_password")
    new_hash = await passwords.hash_password(new_password, passwords.HashCost.of(database.settings))
    async with database.write_session() as session:
        user = await repo.user_for_update(session, actor.user_id)
        if user is None or user.password_hash != checked.password_hash:
            # Changed by another request since it was checked: the checked password is no longer current.
            raise WrongPassword("The current password is not right.", field="current_password")
        now = utcnow()
        user.password_hash = new_hash
        user.password_changed_at = now
        user.updated_at = now
        await repo.end_logins(session, user.id, now)
        await repo.retire_password_resets(session, user.id, now)
        await session.flush()
        await bump_security_version(session, user.id)
        await record_event(session, actor, "user.password_changed", user.id)
