"""How a request's credentials become an :class:`Actor`.

Three ways in: ``Authorization: Bearer <access JWT>``, ``Authorization: Bearer
stk_…`` (an API key), or the web session cookie (plus a CSRF token on unsafe
methods). Every request re-reads the account, so disabling a user, changing a
role or revoking a key takes effect on the next request.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from seqtrack.identity import repository as repo
from seqtrack.identity import service, tokens
from seqtrack.identity.actor import Actor
from seqtrack.identity.errors import CsrfRejected, InvalidToken
from seqtrack.identity.models import ApiKey, RefreshToken, Tenant, User, WebSession
from seqtrack.identity.permissions import Permission, Role, permissions_for
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
# last_used_at is for people auditing keys, not a counter: one write a minute per key is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Whether cookies are Secure (and __Host- named): over TLS, and always in production."""
    return request.url.scheme == "https" or settings.is_production


def session_cookie_name(secure: bool) -> str:
    # The __Host- prefix makes browsers insist on Secure, Path=/ and no Domain; it needs TLS.
    return "__Host-seqtrack_session" if secure else "seqtrack_session"


def csrf_cookie_name(secure: bool) -> str:
    return "__Host-seqtrack_csrf" if secure else "seqtrack_csrf"


@dataclass(frozen=True)
class Resolved:
    actor: Actor
    api_key_to_touch: uuid.UUID | None = None


async def authenticate(request: Request, database: Database) -> Resolved | None:
    """The caller, None without credentials; raises when credentials are present but bad."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise InvalidToken("Use 'Authorization: Bearer <access token or API key>'.")
        async with database.read_session() as session:
            if tokens.looks_like_api_key(credential):
                return await _by_api_key(session, credential)
            return Resolved(await _by_access_token(session, database, credential))
    secure = cookie_secure(request, database.settings)
    session_token = request.cookies.get(session_cookie_name(secure))
    if session_token:
        if request.method not in SAFE_METHODS:
            await _check_csrf(request, database, session_token, secure)
        async with database.read_session() as session:
            return Resolved(await _by_web_session(session, session_token))
    return None


async def touch_api_key(database: Database, key_id: uuid.UUID) -> None:
    now = utcnow()
    async with database.write_session() as session:
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=now)
        )


async def _by_access_token(session: AsyncSession, database: Database, token: str) -> Actor:
    claims = tokens.read_access_token(database.settings, token)
    if claims.session_family is not None:
        revoked = await session.scalar(
            select(
                exists().where(
                    RefreshToken.family_id == claims.session_family,
                    RefreshToken.revoked_at.is_not(None),
                )
            )
        )
        if revoked:
            raise InvalidToken("This log-in has ended; log in again.")
    return await _member_actor(session, claims.user_id, claims.tenant_id, auth_time=claims.auth_time)


async def _by_web_session(session: AsyncSession, token: str) -> Actor:
    row = await session.scalar(select(WebSession).where(WebSession.token_hash == tokens.digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise InvalidToken("The session has ended; log in again.")
    return await _member_actor(session, row.user_id, row.tenant_id, auth_time=row.created_at)


async def _member_actor(
    session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID, *, auth_time: datetime
) -> Actor:
    found = await repo.member(session, tenant_id, user_id)
    tenant = await session.get(Tenant, tenant_id)
    if found is None or tenant is None or tenant.status != "active":
        raise InvalidToken("The account can no longer use this facility.")
    user, membership = found
    if not service.is_active_member(user, membership):
        raise InvalidToken("The account is disabled.")
    if user.password_changed_at >= auth_time + tokens.AUTH_TIME_RESOLUTION:
        raise InvalidToken("The password has changed since this log-in; log in again.")
    lab_ids = await repo.lab_ids_of(session, tenant_id, user_id)
    return service.user_actor(user, membership, lab_ids)


async def _by_api_key(session: AsyncSession, credential: str) -> Resolved:
    prefix, secret = tokens.split_api_key(credential)
    key = await repo.api_key_by_prefix(session, prefix)
    invalid = InvalidToken("The API key is not valid, has expired or was revoked.")
    if key is None or not tokens.secrets_match(secret, key.secret_hash):
        raise invalid
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= utcnow()):
        raise invalid
    found = await repo.member(session, key.tenant_id, key.user_id)
    tenant = await session.get(Tenant, key.tenant_id)
    if found is None or tenant is None or tenant.status != "active" or not service.is_active_member(*found):
        raise invalid
    owner, membership = found
    role = Role(membership.role)
    # A key never outgrows its owner: a demoted owner's keys lose what the owner lost.
    permitted = frozenset(Permission(name) for name in key.permissions if name in Permission._value2member_map_)
    actor = Actor(
        tenant_id=key.tenant_id,
        kind="api_key",
        principal_id=key.id,
        user_id=owner.id,
        display=f"API key {key.prefix} ({_short(owner)})",
        role=role,
        permissions=permitted & permissions_for(role),
        lab_ids=await repo.lab_ids_of(session, key.tenant_id, owner.id),
    )
    recently_used = key.last_used_at is not None and key.last_used_at > utcnow() - LAST_USED_RESOLUTION
    return Resolved(actor, api_key_to_touch=None if recently_used else key.id)


def _short(user: User) -> str:
    return user.email[:200]


async def _check_csrf(request: Request, database: Database, session_token: str, secure: bool) -> None:
    """Double submit, bound to the session: header and cookie agree and match this session.

    A plain HTML form cannot set headers, so an url-encoded form may carry the
    token in a ``csrf_token`` field instead. Multipart uploads must use the
    header: parsing them here would consume a body their route may stream.
    """
    header = request.headers.get(CSRF_HEADER.lower(), "")
    content_type = request.headers.get("content-type", "")
    if not header and content_type.startswith("application/x-www-form-urlencoded"):
        field = (await request.form()).get(CSRF_FORM_FIELD)
        header = field if isinstance(field, str) else ""
    cookie = request.cookies.get(csrf_cookie_name(secure), "")
    expected = tokens.csrf_token_for(database.settings, session_token)

    # Compared as bytes: compare_digest refuses non-ASCII str, which would be a 500.
    sent = header.encode()
    if not sent or not hmac.compare_digest(sent, cookie.encode()) or not hmac.compare_digest(sent, expected.encode()):
        raise CsrfRejected(f"Send the session's CSRF token in the {CSRF_HEADER} header.")
