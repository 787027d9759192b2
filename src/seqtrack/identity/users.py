"""Members of a facility: accounts, roles, status, and who may read a notification today."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import passwords, views
from seqtrack.identity import repository as repo
from seqtrack.identity.accounts import bump_security_version, is_active_member, settings_of, user_actor
from seqtrack.identity.api_keys import list_api_keys
from seqtrack.identity.changes import record_changes, record_event
from seqtrack.identity.errors import (
    EmailTaken,
    LastAdministrator,
    ProfileNotYours,
    UserNotFound,
)
from seqtrack.identity.labs import lab_ids_of_user, set_labs
from seqtrack.identity.models import Membership, User
from seqtrack.identity.schemas import UserIn
from seqtrack.platform import crypto
from seqtrack.platform.actor import Actor
from seqtrack.platform.etag import check_representation_if_match
from seqtrack.platform.models import new_id, utcnow
from seqtrack.platform.permissions import Role, api_key_permissions


def _display_name(chosen: str, email: str) -> str:
    """The name shown for an account. Never the address itself: e-mails are stored only encrypted."""
    chosen = chosen.strip()
    if not chosen or repo.normalise_email(chosen) == email:
        return email.split("@", 1)[0]
    return chosen


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    display_name: str,
    password: str,
    role: Role,
    lab_ids: Iterable[uuid.UUID] = (),
    tenant_id: uuid.UUID | None = None,
) -> tuple[User, Membership]:
    """A new account with a role in the actor's tenant (or ``tenant_id`` for the CLI)."""
    tenant = tenant_id or actor.tenant_id
    email = repo.normalise_email(email)
    passwords.check_password_rules(password, email=email)
    if await repo.user_by_email(session, email) is not None:
        raise EmailTaken("An account with this e-mail exists already.", field="email")
    user = User(
        id=new_id(),
        email=email,
        email_index=repo.email_index(session, email),
        display_name=_display_name(display_name, email),
        password_hash=await passwords.hash_password(password, passwords.HashCost.of(settings_of(session))),
        status="active",
        failed_logins=0,
        password_changed_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    await record_event(
        session,
        actor,
        "user.created",
        user.id,
        data={"email": crypto.mask_email(email), "display_name": user.display_name},
        tenant_id=tenant,
    )
    membership = await grant_role(session, actor, user, role, tenant_id=tenant)
    await set_labs(session, actor, user.id, lab_ids, tenant_id=tenant)
    return user, membership


async def add_user(session: AsyncSession, actor: Actor, body: UserIn) -> tuple[User, Membership]:
    """A new account with a role in the actor's facility, as the API and the admin page ask for one."""
    # The body's fields are create_user's: e-mail, name, password, role and labs.
    return await create_user(session, actor, **body.model_dump())


async def grant_role(
    session: AsyncSession, actor: Actor, user: User, role: Role, *, tenant_id: uuid.UUID | None = None
) -> Membership:
    """Give ``user`` ``role`` in the tenant, or change the role they have."""
    tenant = tenant_id or actor.tenant_id
    membership = await repo.membership(session, tenant, user.id)
    old_role = membership.role if membership is not None else None
    if old_role == role.value:
        assert membership is not None
        return membership
    losing_admin = old_role == Role.ADMIN.value and membership is not None and is_active_member(user, membership)
    if losing_admin and await repo.count_active_admins(session, tenant) <= 1:
        raise LastAdministrator("The tenant's last administrator cannot lose the admin role.")
    if membership is None:
        membership = Membership(id=new_id(), tenant_id=tenant, user_id=user.id, role=role.value, status="active")
        session.add(membership)
    else:
        membership.role = role.value
        membership.updated_at = utcnow()
    await session.flush()
    await bump_security_version(session, user.id)
    await record_event(
        session, actor, "user.role_changed", user.id, changes={"role": (old_role, role.value)}, tenant_id=tenant
    )
    return membership


async def email_of(session: AsyncSession, actor: Actor) -> str | None:
    """The acting person's address, for mail sent on their behalf (None for keys' and system work)."""
    if actor.user_id is None:
        return None
    user = await session.get(User, actor.user_id)
    return user.email if user is not None else None


async def list_members(session: AsyncSession, actor: Actor) -> list[tuple[User, Membership, frozenset[uuid.UUID]]]:
    """Everyone with a role in the caller's facility, with their labs: one query whatever the headcount."""
    return await repo.members_with_labs(session, actor)


async def get_member(
    session: AsyncSession, actor: Actor, user_id: uuid.UUID, *, for_update: bool = False
) -> tuple[User, Membership]:
    found = await repo.member(session, actor, user_id, for_update=for_update)
    if found is None:
        raise UserNotFound("No such user in this facility.", user_id=str(user_id))
    return found


async def may_rename(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> bool:
    """Whether the facility's admins may change this member's name: only if the account is the facility's alone.

    The name is the person's across facilities: one facility's admin renaming a
    shared account would rename them in the others' records too. An account of
    this facility alone is the facility's to keep tidy (its creator may fix a typo).
    """
    return not await repo.belongs_elsewhere(session, actor, user_id)


async def update_member(
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID,
    *,
    display_name: str | None = None,
    status: str | None = None,
    role: Role | None = None,
    lab_ids: Iterable[uuid.UUID] | None = None,
    if_match: str | None = "*",
) -> tuple[User, Membership]:
    """Change a member's role, status or labs (and name, see ``may_rename``), if still as read (``if_match``).

    ``if_match`` is the ETag of the caller's last read; "*" (forms, jobs) changes whatever it holds now.
    """
    user, membership = await get_member(session, actor, user_id, for_update=True)
    check_representation_if_match(if_match, await views.user_out(session, user, membership))
    changes: dict[str, tuple[Any, Any]] = {}
    if display_name is not None and display_name.strip() != user.display_name:
        if not await may_rename(session, actor, user.id):
            raise ProfileNotYours(
                "This account also belongs to another facility: only its owner can change its name.",
                field="display_name",
            )
        changes["display_name"] = (user.display_name, display_name.strip())
        user.display_name = display_name.strip()
    if status is not None and status != membership.status:
        if (
            status != "active"
            and membership.role == Role.ADMIN.value
            and await repo.count_active_admins(session, actor) <= 1
        ):
            raise LastAdministrator("The tenant's last administrator cannot be disabled.")
        changes["status"] = (membership.status, status)
        membership.status = status
        membership.updated_at = utcnow()
    if "status" in changes:
        await bump_security_version(session, user.id)
    event_type = "user.disabled" if status == "disabled" else None
    await record_changes(session, actor, user, changes, aggregate_type="user", event_type=event_type)
    if role is not None:
        membership = await grant_role(session, actor, user, role)
    if lab_ids is not None:
        await set_labs(session, actor, user.id, lab_ids)
    return user, membership


async def own_profile(session: AsyncSession, actor: Actor, *, for_update: bool = False) -> User:
    """The account of the person signed in, whichever facility they are working in."""
    if actor.kind != "user" or actor.user_id is None:
        # An API key acts for its owner in one facility; the owner's profile is not its to read or change.
        raise ProfileNotYours("Only a person signed in as themselves has a profile.")
    user = await (repo.user_for_update(session, actor.user_id) if for_update else session.get(User, actor.user_id))
    if user is None:
        raise UserNotFound("No such user.", user_id=str(actor.user_id))
    return user


async def update_own_profile(
    session: AsyncSession, actor: Actor, *, display_name: str | None = None, email: str | None = None
) -> User:
    """The person changes their own name or e-mail, whichever facilities the account belongs to.

    The caller has proved the current password before an e-mail change: the
    address is where password-reset links go.
    """
    user = await own_profile(session, actor, for_update=True)
    changes: dict[str, tuple[Any, Any]] = {}
    if email is not None and repo.normalise_email(email) != user.email:
        email = repo.normalise_email(email)
        if await repo.user_by_email(session, email) is not None:
            raise EmailTaken("An account with this e-mail exists already.", field="email")
        changes["email"] = (crypto.mask_email(user.email), crypto.mask_email(email))
        user.email = email
        user.email_index = repo.email_index(session, email)
    if display_name is not None:
        wanted = _display_name(display_name, user.email)
        if wanted != user.display_name:
            changes["display_name"] = (user.display_name, wanted)
            user.display_name = wanted
    if changes:
        # Cached callers carry the name and the address: they are stale now.
        await bump_security_version(session, user.id)
    await record_changes(session, actor, user, changes, aggregate_type="user")
    return user


@dataclass(frozen=True, slots=True)
class Reader:
    actor: Actor
    # The account's own e-mail, its log-in (for a key, its owner's): the one address its mail may go to.
    address: str


async def own_address(session: AsyncSession, actor: Actor) -> str:
    """The e-mail of the account behind ``actor`` (a key's owner for an API key)."""
    user_id = actor.user_id if actor.user_id is not None else actor.principal_id
    if actor.kind == "system" or user_id is None:
        raise UserNotFound("Only people and their API keys have an e-mail address.")
    user, _membership = await get_member(session, actor, user_id)
    return user.email


async def readers(
    session: AsyncSession, tenant_id: uuid.UUID, principal_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Reader]:
    """Who each principal (a user or an API key) is today, as the API would see them, and their address.

    A principal that may not sign in any more (disabled, left the facility, key
    revoked or expired) is missing from the answer.
    """
    system = Actor.system(tenant_id)
    keys = {key.id: key for key in await list_api_keys(session, system)}
    found: dict[uuid.UUID, Reader] = {}
    for principal_id in set(principal_ids):
        key = keys.get(principal_id)
        if key is not None and (
            key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= utcnow())
        ):
            continue
        user_id = key.user_id if key is not None else principal_id
        try:
            user, membership = await get_member(session, system, user_id)
        except UserNotFound:
            continue
        if not is_active_member(user, membership):
            continue
        person = user_actor(user, membership, await lab_ids_of_user(session, tenant_id, user_id))
        if key is None:
            found[principal_id] = Reader(person, user.email)
            continue
        key_actor = Actor(
            tenant_id=tenant_id,
            kind="api_key",
            principal_id=key.id,
            user_id=user_id,
            display=person.display,
            role=person.role,
            permissions=api_key_permissions(key.permissions, Role(membership.role)),
            lab_ids=person.lab_ids,
        )
        found[principal_id] = Reader(key_actor, user.email)
    return found
