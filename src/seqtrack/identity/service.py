"""Identity use cases: tenants, users, roles, labs, and password checks with lockout.

Every change goes through the write path (``events.recorder.record``), so
security events land in the same hash-chained audit trail as sample changes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity import callers, passwords, tokens
from seqtrack.identity import repository as repo
from seqtrack.identity.errors import (
    ApiKeyNotFound,
    EmailTaken,
    LabNameTaken,
    LabNotFound,
    LastAdministrator,
    PermissionNotHeld,
    SlugTaken,
    TenantNotFound,
    UserNotFound,
    WrongPassword,
)
from seqtrack.identity.models import ApiKey, Lab, LabMember, Membership, Tenant, User
from seqtrack.platform import crypto
from seqtrack.platform.actor import SYSTEM_TENANT_ID, Actor
from seqtrack.platform.database import Database, after_commit, database_of
from seqtrack.platform.errors import InvalidInput
from seqtrack.platform.models import new_id, utcnow
from seqtrack.platform.permissions import Permission, Role, api_key_permissions, permissions_for
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


# --- tenants -----------------------------------------------------------------------------------


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
    await record(
        session,
        DomainEvent(
            type="tenant.created",
            aggregate_type="tenant",
            aggregate_id=tenant.id,
            data={"slug": slug, "name": tenant.name},
        ),
        actor,
        tenant_id=tenant.id,
    )
    return tenant


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID, *, for_update: bool = False) -> Tenant:
    tenant = await session.get(Tenant, tenant_id, with_for_update=for_update, populate_existing=for_update)
    if tenant is None:
        raise TenantNotFound("No such tenant.")
    return tenant


async def tenants_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[Tenant]:
    """The active facilities where ``user_id`` has a role: theirs to see, nobody else's."""
    memberships = await repo.memberships_of(session, user_id)
    tenants = [await get_tenant(session, membership.tenant_id) for membership in memberships]
    return [tenant for tenant in tenants if tenant.status == "active"]


async def update_tenant(
    session: AsyncSession, actor: Actor, *, name: str | None = None, settings: dict[str, Any] | None = None
) -> Tenant:
    tenant = await get_tenant(session, actor.tenant_id)
    changes: dict[str, tuple[Any, Any]] = {}
    if name is not None and name.strip() != tenant.name:
        changes["name"] = (tenant.name, name.strip())
        tenant.name = name.strip()
    if settings is not None and settings != tenant.settings:
        changes["settings"] = (tenant.settings, settings)
        tenant.settings = settings
    if changes:
        tenant.updated_at = utcnow()
        await session.flush()
        await record(
            session,
            DomainEvent(type="tenant.updated", aggregate_type="tenant", aggregate_id=tenant.id, changes=changes),
            actor,
        )
    return tenant


# --- users and roles ---------------------------------------------------------------------------


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
    await record(
        session,
        DomainEvent(
            type="user.created",
            aggregate_type="user",
            aggregate_id=user.id,
            data={"email": crypto.mask_email(email), "display_name": user.display_name},
        ),
        actor,
        tenant_id=tenant,
    )
    membership = await grant_role(session, actor, user, role, tenant_id=tenant)
    await set_labs(session, actor, user.id, lab_ids, tenant_id=tenant)
    return user, membership


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
    await record(
        session,
        DomainEvent(
            type="user.role_changed",
            aggregate_type="user",
            aggregate_id=user.id,
            changes={"role": (old_role, role.value)},
        ),
        actor,
        tenant_id=tenant,
    )
    return membership


async def email_of(session: AsyncSession, actor: Actor) -> str | None:
    """The acting person's address, for mail sent on their behalf (None for keys' and system work)."""
    if actor.user_id is None:
        return None
    user = await session.get(User, actor.user_id)
    return user.email if user is not None else None


async def list_members(session: AsyncSession, actor: Actor) -> list[tuple[User, Membership, frozenset[uuid.UUID]]]:
    """Everyone with a role in the caller's facility, with their labs: two queries whatever the headcount."""
    labs = await repo.lab_ids_by_user(session, actor)
    return [
        (user, membership, labs.get(user.id, frozenset())) for user, membership in await repo.members(session, actor)
    ]


async def get_member(
    session: AsyncSession, actor: Actor, user_id: uuid.UUID, *, for_update: bool = False
) -> tuple[User, Membership]:
    found = await repo.member(session, actor, user_id, for_update=for_update)
    if found is None:
        raise UserNotFound("No such user in this facility.", user_id=str(user_id))
    return found


async def update_member(
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID,
    *,
    display_name: str | None = None,
    status: str | None = None,
    role: Role | None = None,
    lab_ids: Iterable[uuid.UUID] | None = None,
) -> tuple[User, Membership]:
    user, membership = await get_member(session, actor, user_id)
    changes: dict[str, tuple[Any, Any]] = {}
    if display_name is not None and display_name.strip() != user.display_name:
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
    if changes:
        user.updated_at = utcnow()
        await session.flush()
        if "status" in changes:
            await bump_security_version(session, user.id)
        await record(
            session,
            DomainEvent(
                type="user.disabled" if status == "disabled" else "user.updated",
                aggregate_type="user",
                aggregate_id=user.id,
                changes=changes,
            ),
            actor,
        )
    if role is not None:
        membership = await grant_role(session, actor, user, role)
    if lab_ids is not None:
        await set_labs(session, actor, user.id, lab_ids)
    return user, membership


# --- labs --------------------------------------------------------------------------------------


async def create_lab(session: AsyncSession, actor: Actor, *, name: str, code: str | None = None) -> Lab:
    name = name.strip()
    labs = repo.labs(session, actor)
    if await session.scalar(labs.select().where(Lab.name == name)) is not None:
        raise LabNameTaken(f"A lab named '{name}' exists already.", field="name")
    lab = labs.add(Lab(id=new_id(), tenant_id=actor.tenant_id, name=name, code=code))
    await session.flush()
    await record(
        session,
        DomainEvent(type="lab.created", aggregate_type="lab", aggregate_id=lab.id, data={"name": name, "code": code}),
        actor,
    )
    return lab


async def get_lab(session: AsyncSession, actor: Actor, lab_id: uuid.UUID, *, for_update: bool = False) -> Lab:
    lab = await repo.labs(session, actor).get(lab_id, for_update=for_update)
    if lab is None or (actor.sees_only_own_labs and lab.id not in actor.lab_ids):
        raise LabNotFound("No such lab in this facility.", lab_id=str(lab_id))
    return lab


async def list_labs(session: AsyncSession, actor: Actor) -> list[Lab]:
    labs = await repo.labs(session, actor).list(order_by=[Lab.name])
    if actor.sees_only_own_labs:
        return [lab for lab in labs if lab.id in actor.lab_ids]
    return labs


async def display_names(session: AsyncSession, actor: Actor, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the caller's facility's members among ``user_ids``, in one query; others are left out."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    return await repo.member_names(session, actor, wanted)


async def update_lab(
    session: AsyncSession, actor: Actor, lab_id: uuid.UUID, *, name: str | None = None, code: str | None = None
) -> Lab:
    lab = await get_lab(session, actor, lab_id)
    changes: dict[str, tuple[Any, Any]] = {}
    if name is not None and name.strip() != lab.name:
        clash = await session.scalar(repo.labs(session, actor).select().where(Lab.name == name.strip()))
        if clash is not None:
            raise LabNameTaken(f"A lab named '{name.strip()}' exists already.", field="name")
        changes["name"] = (lab.name, name.strip())
        lab.name = name.strip()
    if code is not None and code != lab.code:
        changes["code"] = (lab.code, code)
        lab.code = code
    if changes:
        lab.updated_at = utcnow()
        await session.flush()
        await record(
            session,
            DomainEvent(type="lab.updated", aggregate_type="lab", aggregate_id=lab.id, changes=changes),
            actor,
        )
    return lab


async def set_labs(
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID,
    lab_ids: Iterable[uuid.UUID],
    *,
    tenant_id: uuid.UUID | None = None,
) -> frozenset[uuid.UUID]:
    """Make ``user_id`` a member of exactly these labs of the tenant."""
    tenant = tenant_id or actor.tenant_id
    wanted = frozenset(lab_ids)
    known = {lab.id for lab in await repo.labs(session, tenant).list(Lab.id.in_(wanted))} if wanted else set()
    unknown = wanted - known
    if unknown:
        raise LabNotFound("No such lab in this facility.", lab_ids=sorted(str(lab) for lab in unknown))
    current = {row.lab_id: row for row in await repo.lab_members(session, tenant, user_id)}
    for lab_id in wanted - current.keys():
        session.add(LabMember(id=new_id(), tenant_id=tenant, lab_id=lab_id, user_id=user_id))
    for lab_id in current.keys() - wanted:
        await session.delete(current[lab_id])
    if wanted != current.keys():
        await session.flush()
        await bump_security_version(session, user_id)
        await record(
            session,
            DomainEvent(
                type="user.labs_changed",
                aggregate_type="user",
                aggregate_id=user_id,
                changes={"labs": (sorted(map(str, current.keys())), sorted(map(str, wanted)))},
            ),
            actor,
            tenant_id=tenant,
        )
    return wanted


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


async def lab_ids_of_user(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The labs of ``tenant_id`` whose samples ``user_id`` belongs to (what a submitter may see)."""
    return await repo.lab_ids_of(session, tenant_id, user_id)


# --- password checks and lockout ---------------------------------------------------------------


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
    await record(
        session,
        DomainEvent(
            type="user.login_failed",
            aggregate_type="user",
            aggregate_id=user.id,
            data={"via": via, "failed_logins": user.failed_logins},
        ),
        actor,
        tenant_id=tenant_id,
    )
    if user.failed_logins >= policy.max_failures:
        user.locked_until = now + policy.lockout
        await record(
            session,
            DomainEvent(
                type="user.locked_out",
                aggregate_type="user",
                aggregate_id=user.id,
                data={"failed_logins": user.failed_logins, "locked_until": user.locked_until},
            ),
            actor,
            tenant_id=tenant_id,
        )
        # The next lock needs a fresh run of failures once this one expires.
        user.failed_logins = 0
        await session.flush()
        await bump_security_version(session, user.id)
    await session.flush()


async def record_refused_while_locked(session: AsyncSession, user: User, *, tenant_id: uuid.UUID, via: str) -> None:
    await record(
        session,
        DomainEvent(
            type="user.login_refused",
            aggregate_type="user",
            aggregate_id=user.id,
            data={"via": via, "reason": "locked", "locked_until": user.locked_until},
        ),
        attempt_actor(user.email, tenant_id),
        tenant_id=tenant_id,
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


# --- API keys ----------------------------------------------------------------------------------


async def create_api_key(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    permissions: Iterable[Permission],
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """A key for the calling user in the calling tenant; returns the row and the secret, shown once."""
    if actor.user_id is None:
        raise PermissionNotHeld("Only a user (or a user's key) can own an API key.")
    wanted = frozenset(permissions)
    # The caller's permissions, not the role's: a key can never mint a key stronger than itself.
    beyond = wanted - actor.permissions
    if beyond:
        raise PermissionNotHeld(
            "An API key can only carry permissions its owner holds.",
            errors=[{"field": "permissions", "message": f"not held: {', '.join(sorted(beyond))}"}],
        )
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("The expiry is in the past.", errors=[{"field": "expires_at", "message": "in the past"}])
    full_key, prefix, secret_hash = tokens.new_api_key()
    key = repo.api_keys(session, actor).add(
        ApiKey(
            id=new_id(),
            tenant_id=actor.tenant_id,
            user_id=actor.user_id,
            name=name.strip(),
            prefix=prefix,
            secret_hash=secret_hash,
            permissions=sorted(permission.value for permission in wanted),
            expires_at=expires_at,
        )
    )
    await session.flush()
    await record(
        session,
        DomainEvent(
            type="api_key.created",
            aggregate_type="api_key",
            aggregate_id=key.id,
            data={
                "name": key.name,
                "prefix": prefix,
                "owner_id": actor.user_id,
                "permissions": key.permissions,
                "expires_at": expires_at,
            },
        ),
        actor,
    )
    return key, full_key


async def list_api_keys(session: AsyncSession, actor: Actor) -> list[ApiKey]:
    """The caller's own keys; a user manager sees every key of the facility."""
    keys = repo.api_keys(session, actor)
    statement = keys.select().order_by(ApiKey.created_at)
    if not actor.can(Permission.USERS_MANAGE):
        statement = statement.where(ApiKey.user_id == actor.user_id)
    return list((await session.scalars(statement)).all())


async def revoke_api_key(session: AsyncSession, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    key = await repo.api_keys(session, actor).get(key_id, for_update=True)
    if key is None or (key.user_id != actor.user_id and not actor.can(Permission.USERS_MANAGE)):
        raise ApiKeyNotFound("No such API key.", api_key_id=str(key_id))
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await bump_security_version(session, key.user_id)
        await record(
            session,
            DomainEvent(
                type="api_key.revoked",
                aggregate_type="api_key",
                aggregate_id=key.id,
                changes={"revoked_at": (None, key.revoked_at)},
                data={"prefix": key.prefix},
            ),
            actor,
        )
    return key


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
        await record(
            session,
            DomainEvent(type="user.password_changed", aggregate_type="user", aggregate_id=user.id),
            actor,
        )
