"""The browser session's two cookies, set and cleared the same way by the API and the pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from seqtrack.identity.authenticate import cookie_secure, csrf_cookie_name, session_cookie_name
from seqtrack.identity.login import WebSessionGrant
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings


def set_session_cookies(response: Response, request: Request, settings: Settings, grant: WebSessionGrant) -> None:
    secure = cookie_secure(request, settings)
    max_age = int((grant.expires_at - utcnow()).total_seconds())
    response.set_cookie(
        session_cookie_name(secure),
        grant.session_token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    # Readable by the page's script (not HttpOnly): it echoes the value in X-CSRF-Token.
    response.set_cookie(
        csrf_cookie_name(secure), grant.csrf_token, max_age=max_age, path="/", secure=secure, samesite="lax"
    )


def clear_session_cookies(response: Response, request: Request, settings: Settings) -> None:
    secure = cookie_secure(request, settings)
    response.delete_cookie(session_cookie_name(secure), path="/", secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(csrf_cookie_name(secure), path="/", secure=secure, samesite="lax")


def session_token(request: Request, settings: Settings) -> str | None:
    return request.cookies.get(session_cookie_name(cookie_secure(request, settings)))
