"""How a request's credentials become an :class:`Actor`.

Three ways in: ``Authorization: Bearer <access JWT>``, ``Authorization: Bearer
stk_…`` (an API key), or the web session cookie (plus a CSRF token on unsafe
methods). A credential is resolved with one statement that reads the account,
its membership, the tenant and the labs together, and the result is cached for
a moment (``identity/callers.py``); any change to the account drops it, so
disabling a user, changing a role or revoking a key takes effect on the next
request.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, exists, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from seqtrack.identity import tokens
from seqtrack.identity.callers import CallerCache
from seqtrack.identity.errors import CsrfRejected, InvalidToken
from seqtrack.identity.models import ApiKey, LabMember, Membership, RefreshToken, Tenant, User, WebSession
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.platform.permissions import Role, api_key_permissions, permissions_for
from seqtrack.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
# Where multipart bodies belong to their route, streamed as they arrive (the API's uploads).
STREAMED_UPLOADS = "/api/"
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


@dataclass(frozen=True)
class _Account:
    """What one resolution read about the account behind a credential."""

    actor: Actor
    account_id: uuid.UUID
    security_version: int
    expires_at: datetime | None
    api_key_to_touch: uuid.UUID | None = None


async def authenticate(request: Request, database: Database, session: AsyncSession | None = None) -> Resolved | None:
    """The caller, None without credentials; raises when credentials are present but bad.

    ``session`` is the request's own read session, used if the caller is not cached;
    without one a short session of its own is opened and closed again.
    """
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise InvalidToken("Use 'Authorization: Bearer <access token or API key>'.")
        kind = "api_key" if tokens.looks_like_api_key(credential) else "access"
    else:
        secure = cookie_secure(request, database.settings)
        cookie = request.cookies.get(session_cookie_name(secure))
        if not cookie:
            return None
        credential, kind = cookie, "session"
        if request.method not in SAFE_METHODS:
            await _check_csrf(request, database, cookie, secure)

    callers: CallerCache | None = getattr(request.app.state, "callers", None)
    key = tokens.digest(f"{kind}:{credential}")
    if callers is not None:
        cached = callers.get(key)
        if cached is not None:
            return Resolved(cached.actor)
    account = await _resolve(database, session, kind, credential)
    if callers is not None:
        callers.put(
            key,
            account.actor,
            account_id=account.account_id,
            security_version=account.security_version,
            expires_at=account.expires_at,
        )
    return Resolved(account.actor, api_key_to_touch=account.api_key_to_touch)


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


async def _resolve(database: Database, session: AsyncSession | None, kind: str, credential: str) -> _Account:
    # Everything that can be refused without the database is refused before touching it.
    statement: Any
    if kind == "access":
        claims = tokens.read_access_token(database.settings, credential)
        values: dict[str, Any] = {"user_id": claims.user_id, "tenant_id": claims.tenant_id}
        if claims.session_family is not None:
            statement, values["family_id"] = _BY_ACCESS_TOKEN, claims.session_family
        else:
            statement = _BY_ACCESS_TOKEN_WITHOUT_LOG_IN
    elif kind == "api_key":
        prefix, secret = tokens.split_api_key(credential)
        statement, values = _BY_API_KEY, {"prefix": prefix}
    else:
        statement, values = _BY_WEB_SESSION, {"token_hash": tokens.digest(credential)}
    if session is not None:
        rows = (await session.execute(statement, values)).all()
    else:
        async with database.read_session() as own:
            rows = (await own.execute(statement, values)).all()
    if kind == "access":
        return _access_token_account(claims, rows)
    if kind == "api_key":
        return _api_key_account(secret, rows)
    return _web_session_account(rows)


# One row per lab membership (at least one row): user, membership and tenant ride along.
_ACCOUNT = (
    User.display_name,
    User.status.label("user_status"),
    User.password_changed_at,
    User.security_version,
    Membership.role,
    Membership.status.label("membership_status"),
    Tenant.status.label("tenant_status"),
    LabMember.lab_id,
)


def _account_joins(statement: Any, user_id: Any, tenant_id: Any) -> Any:
    return (
        statement.outerjoin(User, User.id == user_id)
        .outerjoin(Membership, and_(Membership.user_id == user_id, Membership.tenant_id == tenant_id))
        .outerjoin(Tenant, Tenant.id == tenant_id)
        .outerjoin(LabMember, and_(LabMember.user_id == user_id, LabMember.tenant_id == tenant_id))
    )


def _access_token_statement(with_family: bool) -> Any:
    user_id, tenant_id = bindparam("user_id", type_=User.id.type), bindparam("tenant_id", type_=Tenant.id.type)
    family_revoked = (
        exists().where(
            RefreshToken.family_id == bindparam("family_id", type_=RefreshToken.family_id.type),
            RefreshToken.revoked_at.is_not(None),
        )
        if with_family
        else false()
    )
    return (
        select(family_revoked.label("family_revoked"), *_ACCOUNT)
        .select_from(User)
        .outerjoin(Membership, and_(Membership.user_id == User.id, Membership.tenant_id == tenant_id))
        .outerjoin(Tenant, Tenant.id == tenant_id)
        .outerjoin(LabMember, and_(LabMember.user_id == User.id, LabMember.tenant_id == tenant_id))
        .where(User.id == user_id)
    )


# Built once: a resolution only binds its values.
_BY_ACCESS_TOKEN = _access_token_statement(with_family=True)
_BY_ACCESS_TOKEN_WITHOUT_LOG_IN = _access_token_statement(with_family=False)
_BY_WEB_SESSION = _account_joins(
    select(
        WebSession.user_id, WebSession.tenant_id, WebSession.revoked_at, WebSession.expires_at, WebSession.created_at
    )
    .add_columns(*_ACCOUNT)
    .select_from(WebSession),
    WebSession.user_id,
    WebSession.tenant_id,
).where(WebSession.token_hash == bindparam("token_hash"))
# Unscoped on purpose: the key itself says which tenant the request belongs to.
_BY_API_KEY = _account_joins(
    select(
        ApiKey.id,
        ApiKey.tenant_id,
        ApiKey.user_id,
        ApiKey.prefix,
        ApiKey.secret_hash,
        ApiKey.permissions,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        ApiKey.revoked_at,
    )
    .add_columns(*_ACCOUNT)
    .select_from(ApiKey),
    ApiKey.user_id,
    ApiKey.tenant_id,
).where(ApiKey.prefix == bindparam("prefix"))


def _usable_member(row: Row[Any]) -> bool:
    return row.role is not None and row.tenant_status == "active"


def _active(row: Row[Any]) -> bool:
    return bool(row.user_status == "active" and row.membership_status == "active")


def _lab_ids(rows: Sequence[Row[Any]]) -> frozenset[uuid.UUID]:
    return frozenset(row.lab_id for row in rows if row.lab_id is not None)


def _member_checks(row: Row[Any], auth_time: datetime) -> None:
    if not _usable_member(row):
        raise InvalidToken("The account can no longer use this facility.")
    if not _active(row):
        raise InvalidToken("The account is disabled.")
    if row.password_changed_at >= auth_time + tokens.AUTH_TIME_RESOLUTION:
        raise InvalidToken("The password has changed since this log-in; log in again.")


def _user_actor(user_id: uuid.UUID, tenant_id: uuid.UUID, row: Row[Any], lab_ids: frozenset[uuid.UUID]) -> Actor:
    role = Role(row.role)
    return Actor(
        tenant_id=tenant_id,
        kind="user",
        principal_id=user_id,
        user_id=user_id,
        display=row.display_name,
        role=role,
        permissions=permissions_for(role),
        lab_ids=lab_ids,
    )


def _access_token_account(claims: tokens.AccessClaims, rows: Sequence[Row[Any]]) -> _Account:
    if rows and rows[0].family_revoked:
        raise InvalidToken("This log-in has ended; log in again.")
    if not rows:
        raise InvalidToken("The account can no longer use this facility.")
    return _member_account(rows, claims.user_id, claims.tenant_id, claims.auth_time, claims.expires_at)


def _web_session_account(rows: Sequence[Row[Any]]) -> _Account:
    row = rows[0] if rows else None
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise InvalidToken("The session has ended; log in again.")
    return _member_account(rows, row.user_id, row.tenant_id, row.created_at, row.expires_at)


def _member_account(
    rows: Sequence[Row[Any]], user_id: uuid.UUID, tenant_id: uuid.UUID, auth_time: datetime, expires_at: datetime
) -> _Account:
    """The person a log-in (its member rows, one per lab) acts as, if the membership still allows it."""
    row = rows[0]
    _member_checks(row, auth_time)
    return _Account(
        actor=_user_actor(user_id, tenant_id, row, _lab_ids(rows)),
        account_id=user_id,
        security_version=row.security_version,
        expires_at=expires_at,
    )


def _api_key_account(secret: str, rows: Sequence[Row[Any]]) -> _Account:
    invalid = InvalidToken("The API key is not valid, has expired or was revoked.")
    row = rows[0] if rows else None
    if row is None or not tokens.secrets_match(secret, row.secret_hash):
        raise invalid
    now = utcnow()
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise invalid
    if not _usable_member(row) or not _active(row):
        raise invalid
    role = Role(row.role)
    actor = Actor(
        tenant_id=row.tenant_id,
        kind="api_key",
        principal_id=row.id,
        user_id=row.user_id,
        display=f"API key {row.prefix} ({row.display_name[:200]})",
        role=role,
        permissions=api_key_permissions(row.permissions, role),
        lab_ids=_lab_ids(rows),
    )
    recently_used = row.last_used_at is not None and row.last_used_at > now - LAST_USED_RESOLUTION
    return _Account(
        actor=actor,
        account_id=row.user_id,
        security_version=row.security_version,
        expires_at=row.expires_at,
        api_key_to_touch=None if recently_used else row.id,
    )


def _may_carry_the_token_in_a_field(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return True
    return content_type.startswith("multipart/form-data") and not request.url.path.startswith(STREAMED_UPLOADS)


async def _check_csrf(request: Request, database: Database, session_token: str, secure: bool) -> None:
    """Double submit, bound to the session: header and cookie agree and match this session.

    A plain HTML form cannot set headers, so a form may carry the token in a
    ``csrf_token`` field instead: any url-encoded one, and a web page's multipart
    upload (its route reads the whole form anyway, and the parsed form is kept
    for it). An API upload must use the header: its route streams the body.
    """
    header = request.headers.get(CSRF_HEADER.lower(), "")
    if not header and _may_carry_the_token_in_a_field(request):
        field = (await request.form()).get(CSRF_FORM_FIELD)
        header = field if isinstance(field, str) else ""
    cookie = request.cookies.get(csrf_cookie_name(secure), "")
    expected = tokens.csrf_token_for(database.settings, session_token)

    # Compared as bytes: compare_digest refuses non-ASCII str, which would be a 500.
    sent = header.encode()
    if not sent or not hmac.compare_digest(sent, cookie.encode()) or not hmac.compare_digest(sent, expected.encode()):
        raise CsrfRejected(f"Send the session's CSRF token in the {CSRF_HEADER} header.")
