"""Who is calling, and may they: the dependencies every route uses.

Routes declare what they need with ``require(Permission.X)``; the identity
domain decides how a bearer token, API key or session cookie becomes an
:class:`Actor` (see ``identity/authenticate.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, cast

import structlog
from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.authenticate import SAFE_METHODS, Resolved, authenticate, touch_api_key
from seqtrack.identity.callers import CallerCache
from seqtrack.identity.ratelimit import LoginLimiter, RequestLimiter
from seqtrack.platform.actor import Actor
from seqtrack.platform.deps import ReadSession, get_database
from seqtrack.platform.errors import DomainError, Forbidden, Unauthenticated
from seqtrack.platform.permissions import Permission

# Declares the scheme in OpenAPI (the lock and "Authorize" in /docs); the header itself is
# read in authenticate(), which also accepts API keys and the session cookie.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An access token from POST /api/v1/auth/token, or an API key (stk_…).",
)
_RESOLVED = "seqtrack.identity.caller"
_UNRESOLVED = object()


async def resolve_caller(request: Request, session: AsyncSession | None = None) -> Resolved | None:
    """The caller of this request, resolved once and kept with the request.

    Bad credentials raise here, so a unit of work that calls this first never
    takes a writer turn for a request that is refused anyway.
    """
    # In the request's own scope, not request.state: some servers share one state dict across requests.
    known: object = request.scope.get(_RESOLVED, _UNRESOLVED)
    if known is not _UNRESOLVED:
        return cast("Resolved | None", known)
    resolved = await authenticate(request, get_database(request), session)
    request.scope[_RESOLVED] = resolved
    limiter: RequestLimiter | None = getattr(request.app.state, "request_limiter", None)
    if limiter is not None:
        await limiter.check(_caller_key(request, resolved), request.method, request.url.path)
    return resolved


def _caller_key(request: Request, resolved: Resolved | None) -> str:
    if resolved is None:
        return f"ip:{client_address(request)}"
    actor = resolved.actor
    if actor.kind == "api_key":
        return f"api_key:{actor.principal_id}"
    return f"user:{actor.user_id or actor.principal_id}"


async def resolve_before_writing(request: Request) -> None:
    await resolve_caller(request)


async def current_actor(
    request: Request,
    background: BackgroundTasks,
    session: ReadSession,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Actor:
    """The authenticated caller of this request."""
    # A safe request shares its read session with the route: one connection, one transaction.
    # An unsafe one resolves on a short session of its own, closed before its writes begin.
    resolved = await resolve_caller(request, session if request.method in SAFE_METHODS else None)
    if resolved is None:
        raise Unauthenticated("Send a valid access token or API key as 'Authorization: Bearer …'.")
    if resolved.api_key_to_touch is not None:
        # After the response: the request's own unit of work may hold the SQLite writer turn now.
        background.add_task(touch_api_key, get_database(request), resolved.api_key_to_touch)
    request.state.actor = resolved.actor
    structlog.contextvars.bind_contextvars(tenant=str(resolved.actor.tenant_id), user=resolved.actor.display)
    return resolved.actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require(permission: Permission) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency that lets the caller through only with ``permission``."""

    async def check(actor: CurrentActor) -> Actor:
        if not actor.can(permission):
            raise Forbidden(f"This needs the '{permission.value}' permission.", permission=permission.value)
        return actor

    check.__name__ = f"require_{permission.name.lower()}"
    check.required_permission = permission  # type: ignore[attr-defined]  # read by the attack-matrix test
    return check


# Who may manage the facility's people, keys and settings: the API and the admin pages alike.
CanReadUsers = Annotated[Actor, Depends(require(Permission.USERS_READ))]
CanManageUsers = Annotated[Actor, Depends(require(Permission.USERS_MANAGE))]
CanManageKeys = Annotated[Actor, Depends(require(Permission.APIKEYS_MANAGE))]
CanManageTenant = Annotated[Actor, Depends(require(Permission.TENANT_MANAGE))]


async def recheck_caller(request: Request, permission: Permission) -> Actor | None:
    """The caller as its credentials stand now (not as cached for the request), if still allowed ``permission``.

    A long-lived response such as the live feed asks this to notice a log-out, revoked key or disabled account.
    """
    try:
        resolved = await authenticate(request, get_database(request))
    except DomainError:
        return None
    if resolved is None or not resolved.actor.can(permission):
        return None
    return resolved.actor


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def login_limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


Limiter = Annotated[LoginLimiter, Depends(login_limiter)]


@contextlib.contextmanager
def watch_access(request: Request, actor: Actor) -> Iterator[asyncio.Event | None]:
    """While open, an event set whenever ``actor``'s account changes here or in another process."""
    if actor.user_id is None:
        yield None
        return
    callers: CallerCache = request.app.state.callers
    with callers.watch(actor.user_id) as changed:
        yield changed
