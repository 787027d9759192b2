"""Refuse input no later layer should have to survive: NUL in URLs, JSON nested without bound."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seqtrack.platform.jsondepth import MAX_BODY_DEPTH, nesting_exceeds
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


async def _whole_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _is_json_body(scope: Scope) -> bool:
    # The same rule FastAPI uses to decide it parses a body as JSON: no content type at all counts.
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            maintype, _, subtype = media.partition(b"/")
            return maintype == b"application" and (subtype == b"json" or subtype.endswith(b"+json"))
    return True


class JsonDepthMiddleware:
    """Answer 422 to a JSON body nested deeper than :data:`MAX_BODY_DEPTH` before anything parses it."""

    def __init__(self, app: ASGIApp, max_depth: int = MAX_BODY_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"} or not _is_json_body(scope):
            await self.app(scope, receive, send)
            return
        body = await _whole_body(receive)
        if body is None:
            return  # the client left before sending it all; there is no one to answer
        if nesting_exceeds(body.decode("utf-8", "replace"), self.max_depth):
            detail = f"The JSON body nests arrays or objects deeper than {self.max_depth} levels."
            response = problem_response(
                Request(scope),
                422,
                code="validation_error",
                detail=detail,
                errors=[{"field": "body", "location": "body", "message": detail, "type": "json_too_deep"}],
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
