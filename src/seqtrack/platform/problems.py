"""The one mapping from exceptions to ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from seqtrack.platform import errors

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://seqtrack.dev/problems/"

log = structlog.get_logger("seqtrack.errors")

STATUS: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.RuleViolation: 422,
    errors.InvalidInput: 422,
    errors.PreconditionFailed: 412,
    errors.PreconditionRequired: 428,
    errors.TooManyRequests: 429,
    errors.Unavailable: 503,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
}

HTTP_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
    504: "Request timed out",
}


def new_error_id() -> str:
    return uuid.uuid4().hex


PageRenderer = Callable[[Request, dict[str, Any]], Response]
_PAGE_RENDERER = "problem_page_renderer"


def install_page_renderer(app: FastAPI, renderer: PageRenderer) -> None:
    """Let a browser asking for a page see a problem as a page (the web domain says how)."""
    setattr(app.state, _PAGE_RENDERER, renderer)


def _page_renderer(request: Request | None) -> PageRenderer | None:
    if request is None or request.url.path.startswith("/api/"):
        return None
    if "text/html" not in request.headers.get("accept", ""):
        return None
    renderer: PageRenderer | None = getattr(request.app.state, _PAGE_RENDERER, None)
    return renderer


def problem_response(
    request: Request | None,
    status: int,
    *,
    code: str,
    detail: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    error_id: str | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code.replace(".", "/"),
        "title": title or HTTP_TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path if request is not None else None,
        "code": code,
        "error_id": error_id or new_error_id(),
    }
    request_id = _request_id(request)
    if request_id:
        body["request_id"] = request_id
    body.update({key: value for key, value in extra.items() if value is not None})
    renderer = _page_renderer(request)
    if renderer is not None and request is not None:
        return renderer(request, body)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _request_id(request: Request | None) -> str | None:
    if request is None:
        return None
    return getattr(request.state, "request_id", None)


def status_for(exc: errors.DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    status = status_for(exc)
    headers = None
    if isinstance(exc, errors.TooManyRequests):
        headers = {
            "Retry-After": str(exc.retry_after_seconds),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(exc.retry_after_seconds),
        }
        if exc.limit is not None:
            headers["RateLimit-Limit"] = str(exc.limit)
    if isinstance(exc, errors.Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    error_id = new_error_id()
    log.info("request refused", error_id=error_id, code=exc.code, status=status, detail=exc.detail)
    return problem_response(
        request,
        status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=headers,
        error_id=error_id,
        **exc.extra,
    )


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    field_errors = [
        {
            "field": ".".join(str(part) for part in item["loc"][1:]) or str(item["loc"][0]),
            "location": str(item["loc"][0]) if item["loc"] else "body",
            "message": item["msg"],
            "type": item["type"],
        }
        for item in exc.errors()
    ]
    # A misspelt field or parameter is named as such, not taken for a bad value of a real one.
    unknown = [error for error in field_errors if error["type"] == "extra_forbidden"]
    invalid = sorted({error["field"] for error in field_errors if error["type"] != "extra_forbidden"})
    parts = [f"Invalid value for: {', '.join(invalid)}"] if invalid else []
    for location, kind in (("query", "query parameter"), ("body", "field")):
        names = sorted({error["field"] for error in unknown if error["location"] == location})
        parts += [f"Unknown {kind}: {', '.join(names)}"] if names else []
    return problem_response(
        request,
        422,
        code="validation_error",
        detail="; ".join(parts) or "The request is not valid",
        errors=field_errors,
    )


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTP_TITLES.get(exc.status_code, "")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}"
    if exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        request,
        exc.status_code,
        code=f"http_{exc.status_code}",
        detail=detail,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    error_id = new_error_id()
    # The stack trace goes to the log under the same error_id the client sees,
    # so a support request can be matched to it; the client never sees it.
    log.error("unhandled exception", error_id=error_id, exc_info=exc)
    return problem_response(
        request,
        500,
        code="internal_error",
        detail=f"An unexpected error occurred. Quote error id {error_id} when reporting it.",
        error_id=error_id,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
