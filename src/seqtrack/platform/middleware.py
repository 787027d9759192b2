"""ASGI middleware of the platform: request context, limits and security headers.

Written against raw ASGI rather than ``BaseHTTPMiddleware`` so streamed
responses (exports, the live feed) pass through untouched and context
variables set here are visible to the handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from typing import Any

import structlog
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seqtrack.platform import metrics
from seqtrack.platform.problems import new_error_id, problem_response
from seqtrack.platform.tracing import tracer

log = structlog.get_logger("seqtrack.http")

# A caller-supplied id is echoed into logs, so only a short, plain token is trusted.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The matched route's full path template, e.g. ``/api/v1/samples/{sample_id}``.

    For a route of an included router ``scope["route"]`` is the router's own
    route (path without the prefix); FastAPI records the effective, prefixed
    route in its scope entry, which is preferred when present.
    """
    fastapi_scope = scope.get("fastapi")
    context = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    for candidate in (getattr(context, "starlette_route", None), context, scope.get("route")):
        path = getattr(candidate, "path_format", None) or getattr(candidate, "path", None)
        if isinstance(path, str):
            return path
    return UNMATCHED_ROUTE


class HttpMiddleware:
    """Raw ASGI middleware for HTTP requests; lifespan and websocket traffic passes straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


async def _answer_problem(scope: Scope, receive: Receive, send: Send, status: int, *, code: str, **fields: Any) -> None:
    """Answer with a problem before (or instead of) the application."""
    await problem_response(Request(scope), status, code=code, **fields)(scope, receive, send)


class RequestContextMiddleware(HttpMiddleware):
    """Request id, access log, metrics, and the last word on unexpected errors."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        method = scope["method"]
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        metrics.HTTP_IN_FLIGHT.inc()
        parent = propagate.extract(_text_headers(scope))
        span = tracer.start_span(f"{method} {scope['path']}", context=parent, kind=SpanKind.SERVER)
        span.set_attribute("http.request.method", method)
        span.set_attribute("seqtrack.request_id", request_id)
        try:
            with trace.use_span(span, end_on_exit=False):
                await self.app(scope, receive, send_with_request_id)
        except Exception as exc:
            error_id = new_error_id()
            # The stack trace goes to the log under the error id the client sees.
            log.error(
                "unhandled exception",
                error_id=error_id,
                method=method,
                route=route_template(scope),
                exc_info=exc,
            )
            if response_started:
                raise
            await _answer_problem(
                scope,
                receive,
                send_with_request_id,
                500,
                code="internal_error",
                detail=f"An unexpected error occurred. Quote error id {error_id} when reporting it.",
                error_id=error_id,
            )
        finally:
            metrics.HTTP_IN_FLIGHT.dec()
            duration = time.perf_counter() - started
            route = route_template(scope)
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            span.end()
            labels = {"method": method, "route": route, "status": str(status)}
            metrics.HTTP_REQUESTS.labels(**labels).inc()
            metrics.HTTP_DURATION.labels(**labels).observe(duration)
            log.info(
                "request",
                method=method,
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(duration * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


def _text_headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            return candidate if SANE_REQUEST_ID.match(candidate) else None
    return None


class BodyLimitMiddleware(HttpMiddleware):
    """Refuse bodies over the limit with 413, whether declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None) -> None:
        super().__init__(app)
        self.default_max_bytes = max_bytes
        # File uploads (intake) have a limit of their own, larger than any JSON body needs.
        self.per_path = per_path or {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_bytes = self.per_path.get(scope.get("path", ""), self.default_max_bytes)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, receive, send, max_bytes)
            return

        received = 0
        response_started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes and not refused:
                    # Answer now: frameworks turn errors raised while reading the
                    # body into their own 400, which would hide the real reason.
                    refused = True
                    if not response_started:
                        await self._refuse(scope, receive, send, max_bytes)
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counting_receive, tracking_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        detail = f"The request body exceeds the limit of {max_bytes} bytes."
        await _answer_problem(scope, receive, send, 413, code="body_too_large", detail=detail)


class _BodyTooLarge(Exception):
    pass


class TimeoutMiddleware(HttpMiddleware):
    """Answer 504 when a handler has not begun its response in time.

    Only the wait for the first byte is bounded: a streamed export or the live
    feed may run as long as its client listens.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        super().__init__(app)
        self.seconds = seconds

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response_started = False
        deadline = asyncio.timeout(self.seconds)

        async def send_and_release(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start" and not response_started:
                response_started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_and_release)
            return
        except TimeoutError:
            # A TimeoutError of the handler's own (a database wait) is not ours to answer.
            if response_started or not deadline.expired():
                raise
        detail = f"The request took longer than {self.seconds:g} seconds and was abandoned."
        await _answer_problem(scope, receive, send, 504, code="timeout", detail=detail)


DOCS_PATHS = frozenset({"/docs", "/redoc"})
CSP_API = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# Pages run only this server's own scripts; the API docs' pages (Swagger UI, ReDoc) start
# with an inline script and ReDoc searches in a blob: worker, so they get exactly that much more.
CSP_UI = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
CSP_DOCS = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'"
)


class SecurityHeadersMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        is_api = path.startswith("/api/") or path in {"/health", "/ready", "/metrics"}
        csp = CSP_API if is_api else CSP_DOCS if path in DOCS_PATHS else CSP_UI
        over_tls = scope.get("scheme") == "https"
        # API answers and exports are a facility's data: no browser or shared cache may keep a copy.
        # A page seen with a credential is treated alike; a handler may still set its own policy.
        private = path.startswith("/api/") or any(
            name in (b"authorization", b"cookie") for name, _ in scope.get("headers", [])
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if over_tls:
                    extra.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
                if private:
                    extra.append((b"cache-control", b"no-store"))
                headers.extend(item for item in extra if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
