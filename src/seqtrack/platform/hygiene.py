"""Refuse URLs carrying NUL: no database can store it, so it would fail deep inside a query."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from seqtrack.platform.problems import problem_response

NUL_MESSAGE = "contains a NUL character, which cannot be stored or searched"


class UrlHygieneMiddleware:
    """Answer 422 naming each query parameter that holds NUL (400 for a NUL in the path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if "\x00" in scope["path"]:
                response = problem_response(Request(scope), 400, code="nul_in_url", detail=f"The path {NUL_MESSAGE}.")
                await response(scope, receive, send)
                return
            query = scope.get("query_string", b"").decode("latin-1")
            if "%00" in query or "\x00" in unquote(query):
                names = sorted(
                    {name for name, value in parse_qsl(query, keep_blank_values=True) if "\x00" in name + value}
                )
                response = problem_response(
                    Request(scope),
                    422,
                    code="validation_error",
                    detail="Invalid value for: " + ", ".join(names),
                    errors=[{"field": name, "location": "query", "message": NUL_MESSAGE} for name in names],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
