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
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from seqtrack.platform.problems import problem_response

_PLACEHOLDER = re.compile(r"\{[^}/]+\}")


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    literal_segments: int
    methods: frozenset[str]


def _templates(routes: Iterable[tuple[str, Collection[str]]]) -> list[_Template]:
    by_path: dict[str, set[str]] = defaultdict(set)
    for path, methods in routes:
        by_path[path] |= set(methods)
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
    def __init__(self, app: ASGIApp, prefix: str, routes: Iterable[tuple[str, Collection[str]]]) -> None:
        """``routes``: the path template and methods of every route served under ``prefix``.

        Given by the app's builder, not read from the app's routing table: FastAPI builds that
        per app by resolving every route's dependencies, about a second of CPU.
        """
        self.app = app
        self.prefix = prefix
        self._table = _templates(routes)

    def allowed(self, scope: Scope) -> frozenset[str] | None:
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
