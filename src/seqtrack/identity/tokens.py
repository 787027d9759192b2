"""Access JWTs, opaque refresh/session tokens, API key strings, CSRF tokens.

JWTs are HS256 with the algorithm pinned on decode, issuer and audience
checked, and ``exp``, ``iat``, ``jti``, ``sub``, ``tid`` and ``auth_time``
required. Each purpose gets its own key derived from the installation secret,
so a value made for one purpose can never pass as another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from seqtrack.identity.errors import InvalidToken
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings

ALGORITHM = "HS256"
ISSUER = "seqtrack"
AUDIENCE = "seqtrack-api"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti", "tid", "auth_time"]
API_KEY_MARK = "stk"
# Leeway for clocks of replicas that disagree by a little.
CLOCK_SKEW = timedelta(seconds=10)
# auth_time travels in whole seconds; a password changed after that second ends the log-in.
AUTH_TIME_RESOLUTION = timedelta(seconds=1)


def purpose_key(settings: Settings, purpose: str) -> bytes:
    return hmac.new(settings.signing_key().encode(), f"seqtrack.{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    token_id: str
    auth_time: datetime
    expires_at: datetime
    session_family: uuid.UUID | None


def issue_access_token(
    settings: Settings,
    *,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    auth_time: datetime,
    session_family: uuid.UUID | None,
    now: datetime | None = None,
    lifetime: timedelta | None = None,
) -> tuple[str, datetime]:
    now = now or utcnow()
    expires_at = now + (lifetime or timedelta(minutes=settings.access_token_minutes))
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "tid": str(tenant_id),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": secrets.token_urlsafe(16),
        "auth_time": int(auth_time.timestamp()),
    }
    if session_family is not None:
        claims["sid"] = str(session_family)
    return jwt.encode(claims, purpose_key(settings, "access-token"), algorithm=ALGORITHM), expires_at


def read_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            purpose_key(settings, "access-token"),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=CLOCK_SKEW,
            options={"require": REQUIRED_CLAIMS},
        )
        return AccessClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            tenant_id=uuid.UUID(str(claims["tid"])),
            token_id=str(claims["jti"]),
            auth_time=datetime.fromtimestamp(int(claims["auth_time"]), UTC),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            session_family=uuid.UUID(str(claims["sid"])) if claims.get("sid") else None,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The access token has expired; refresh it or log in again.") from None
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise InvalidToken("The access token is not valid.") from None


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """SHA-256 of a high-entropy token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """(full key shown once, visible prefix, SHA-256 of the secret part)."""
    # 48 bits: prefixes stay unique (a unique index backs them) however many keys a facility makes.
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{API_KEY_MARK}_{prefix}_{secret}", prefix, digest(secret)


def looks_like_api_key(token: str) -> bool:
    return token.startswith(f"{API_KEY_MARK}_")


def split_api_key(token: str) -> tuple[str, str]:
    """(prefix, secret) of an API key string; raises if it is malformed."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_MARK or not parts[1] or not parts[2]:
        raise InvalidToken("The API key is not valid.")
    return parts[1], parts[2]


def secrets_match(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


def csrf_token_for(settings: Settings, session_token: str) -> str:
    """The CSRF token bound to one web session: a forged cookie cannot carry a matching one."""
    return hmac.new(purpose_key(settings, "csrf"), session_token.encode(), hashlib.sha256).hexdigest()
