"""The worker's small HTTP port: ``/metrics`` for Prometheus, ``/health`` and ``/ready`` for an orchestrator.

A worker has no API; this port is what a Kubernetes liveness and readiness probe
can ask. Ready means what it means for the api: the database answers and its
schema is at this version's head (a worker never runs against a schema it does
not know, e.g. while the migration Job of a rollout is still running).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

if TYPE_CHECKING:
    from seqtrack.platform.database import Database

READY_TIMEOUT_SECONDS = 3.0
StartResponse = Callable[..., Any]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would drown the worker's own log."""


async def _ready(database: Database) -> None:
    from seqtrack.platform.migrations import head_revision

    await database.check_reachable()
    current, head = await database.current_revision(), head_revision()
    if current != head:
        raise RuntimeError(f"migrations not at head (database {current}, code {head})")


class WorkerProbes:
    def __init__(self, host: str, port: int) -> None:
        self._metrics = make_wsgi_app()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._database: Database | None = None
        self._server = make_server(host, port, self._app, _ThreadingServer, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="worker-probes", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def attach(self, loop: asyncio.AbstractEventLoop, database: Database) -> None:
        """From now on /ready asks this database, on the worker's own event loop."""
        self._loop, self._database = loop, database

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/ready":
            problem = self._readiness_problem()
            if problem is None:
                return _json(start_response, "200 OK", {"status": "ready"})
            return _json(start_response, "503 Service Unavailable", {"status": "unavailable", "detail": problem})
        result: Iterable[bytes] = self._metrics(environ, start_response)
        return result

    def _readiness_problem(self) -> str | None:
        if self._loop is None or self._database is None:
            return "worker starting"
        future = asyncio.run_coroutine_threadsafe(_ready(self._database), self._loop)
        try:
            future.result(timeout=READY_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            return f"database: no answer within {READY_TIMEOUT_SECONDS:g}s"
        except Exception as exc:
            return f"database: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
        return None


def _json(start_response: StartResponse, status: str, body: dict[str, str]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
