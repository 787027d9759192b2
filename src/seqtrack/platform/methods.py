"""Which methods a path allows: 405 with ``Allow`` for the others, and OPTIONS answered with the list.

The router alone gets both wrong for this API: ``PATCH /samples/transitions``
reaches ``PATCH /samples/{sample_id}`` and fails as a malformed id (422), and a
405 or OPTIONS lists only the methods of the first route that shares the path.
A path's allowed methods are those of the routes whose template matches it,
the templates with the most literal segments taking precedence over ones that
match only by a placeholder.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from seqtrack.platform.problems import problem_response

_PLACEHOLDER = re.compile(r"\{[^}/]+\}")


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    literal_segments: int
    methods: frozenset[str]


def resolve_routes(routes: Iterable[BaseRoute]) -> None:
    """Have FastAPI resolve every route's dependencies now, as the app is built, not on its first request.

    FastAPI does it lazily and caches it (about a second of CPU for this API): paid by whichever
    request comes first, which is then seconds late on a busy machine.
    """
    for _ in iter_route_contexts(list(routes)):
        pass


def _templates(routes: Iterable[BaseRoute], prefix: str) -> list[_Template]:
    # From the routing table, not the OpenAPI document: generating that takes seconds, and the
    # first request of every process would wait for it.
    by_path: dict[str, set[str]] = defaultdict(set)
    for route in iter_route_contexts(list(routes)):
        if route.path is not None and route.path.startswith(prefix) and route.methods:
            by_path[route.path] |= route.methods
    templates = []
    for path, methods in by_path.items():
        if "GET" in methods:
            methods.add("HEAD")
        methods.add("OPTIONS")
        regex = "^" + _PLACEHOLDER.sub("[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        literal = sum(1 for segment in path.split("/") if segment and not _PLACEHOLDER.fullmatch(segment))
        templates.append(_Template(re.compile(regex), literal, frozenset(methods)))
    return templates


class AllowedMethodsMiddleware:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self._table: list[_Template] | None = None

    def allowed(self, scope: Scope) -> frozenset[str] | None:
        if self._table is None:
            self._table = _templates(scope["app"].routes, self.prefix)
        path: str = scope["path"]
        matching = [template for template in self._table if template.pattern.match(path)]
        if not matching:
            return None
        most_literal = max(template.literal_segments for template in matching)
        return frozenset().union(
            *(template.methods for template in matching if template.literal_segments == most_literal)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        allowed = self.allowed(scope)
        method = scope["method"]
        if allowed is None or (method in allowed and method != "OPTIONS") or _is_cors_preflight(scope):
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(allowed))
        if method == "OPTIONS":
            response: Response = Response(status_code=204, headers={"Allow": allow})
        else:
            response = problem_response(
                Request(scope),
                405,
                code="http_405",
                detail=f"{method} is not allowed on {scope['path']}; allowed: {allow}.",
                headers={"Allow": allow},
            )
        await response(scope, receive, send)


def _is_cors_preflight(scope: Scope) -> bool:
    names = {name for name, _ in scope.get("headers", [])}
    return scope["method"] == "OPTIONS" and b"origin" in names and b"access-control-request-method" in names
