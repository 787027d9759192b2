"""Who is calling, and may they: the dependencies every route uses.

Routes declare what they need with ``require(Permission.X)``; the identity
domain decides how a bearer token or API key becomes an :class:`Actor`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from seqtrack.identity.actor import Actor
from seqtrack.identity.permissions import Permission
from seqtrack.platform.errors import Forbidden, Unauthenticated


async def current_actor(request: Request) -> Actor:
    """The authenticated caller of this request."""
    authenticate: Callable[[Request], Awaitable[Actor | None]] | None = getattr(request.app.state, "authenticate", None)
    actor = await authenticate(request) if authenticate is not None else None
    if actor is None:
        raise Unauthenticated("Send a valid access token or API key as 'Authorization: Bearer …'.")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require(permission: Permission) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency that lets the caller through only with ``permission``."""

    async def check(actor: CurrentActor) -> Actor:
        if not actor.can(permission):
            raise Forbidden(f"This needs the '{permission.value}' permission.", permission=permission.value)
        return actor

    check.__name__ = f"require_{permission.name.lower()}"
    return check
