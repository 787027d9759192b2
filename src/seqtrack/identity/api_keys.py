"""API keys: machine credentials of a member, never allowed more than their owner."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import repository as repo
from seqtrack.identity import tokens
from seqtrack.identity.accounts import bump_security_version
from seqtrack.identity.changes import record_event
from seqtrack.identity.errors import (
    ApiKeyNotFound,
    PermissionNotHeld,
)
from seqtrack.identity.models import ApiKey
from seqtrack.platform.actor import Actor
from seqtrack.platform.errors import InvalidInput
from seqtrack.platform.models import new_id, utcnow
from seqtrack.platform.permissions import Permission


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
    await record_event(
        session,
        actor,
        "api_key.created",
        key.id,
        data={
            "name": key.name,
            "prefix": prefix,
            "owner_id": actor.user_id,
            "permissions": key.permissions,
            "expires_at": expires_at,
        },
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
        await record_event(
            session,
            actor,
            "api_key.revoked",
            key.id,
            data={"prefix": key.prefix},
            changes={"revoked_at": (None, key.revoked_at)},
        )
    return key
