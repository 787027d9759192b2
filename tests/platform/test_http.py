"""What any client sees of the platform: health, errors, request ids, metrics, limits."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import BaseModel, Field

from seqtrack.app import create_app
from seqtrack.platform import logging as platform_logging
from seqtrack.platform.logging import configure_logging
from seqtrack.settings import Settings
from tests.fixtures.database import make_settings


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    platform_logging.flush()  # lines are written by the logging thread
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


@pytest.fixture
def log_stream() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(json_logs=True, level="INFO", stream=stream)
    return stream


async def test_health_answers_without_touching_dependencies(tmp_path: Path) -> None:
    from seqtrack.platform import health
    from seqtrack.platform.database import Database
    from tests.fixtures.processes import free_port

    # Nothing listens there: anything that asks the database fails.
    settings = make_settings(tmp_path / "data", f"postgresql://seqtrack:nothing@127.0.0.1:{free_port()}/gone")
    app = create_app(settings)
    database = Database(settings)
    app.state.database = database
    app.state.readiness_checks = health.database_checks(database)
    try:
        # No lifespan: starting up needs the database, and /health must not.
        async with _client(app) as client:
            alive = await client.get("/health")
            ready = await client.get("/ready")
    finally:
        await database.dispose()
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] != "ok"


async def test_ready_when_database_answers_and_migrations_are_current(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_ready_names_the_database_when_its_file_is_unreadable(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    database_file = Path(settings.database_dsn.removeprefix("sqlite+aiosqlite:///"))
    database_file.write_bytes(b"this is not a database" * 100)
    response = await client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] != "ok"
    assert "database" in body["detail"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_ready_names_the_database_when_its_file_is_gone(client: httpx.AsyncClient, settings: Settings) -> None:
    Path(settings.database_dsn.removeprefix("sqlite+aiosqlite:///")).unlink()
    response = await client.get("/ready")
    assert response.status_code == 503
    assert "database" in response.json()["detail"]


async def test_ready_names_the_database_when_postgresql_port_is_closed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "postgresql+asyncpg://postgres@127.0.0.1:1/test")
    app = create_app(settings)
    async with LifespanManager(app), _client(app) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert "database" in response.json()["detail"]


async def test_ready_reports_migrations_behind(client: httpx.AsyncClient, app: FastAPI) -> None:
    async with app.state.database.write_session() as session:
        from sqlalchemy import text

        await session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = await client.get("/ready")
    assert response.status_code == 503
    assert "migrations not at head" in response.json()["checks"]["database"]


async def test_unknown_route_is_a_problem_document_with_an_error_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "instance", "error_id"} <= body.keys()
    assert body["status"] == 404
    assert body["instance"] == "/api/v1/nope"


async def test_wrong_method_is_a_problem_document(client: httpx.AsyncClient) -> None:
    response = await client.post("/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


async def test_crash_returns_500_whose_error_id_is_in_the_logged_stack_trace(
    settings: Settings, log_stream: io.StringIO
) -> None:
    app = create_app(settings)
    configure_logging(json_logs=True, level="INFO", stream=log_stream)

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("tube rack fell over")

    async with LifespanManager(app), _client(app) as client:
        response = await client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "tube rack fell over" not in response.text
    assert "Traceback" not in response.text
    error_lines = [line for line in _json_lines(log_stream) if line.get("error_id") == body["error_id"]]
    assert error_lines, "the error id must be in the log"
    assert "tube rack fell over" in json.dumps(error_lines[0]["exception"])
    assert error_lines[0]["request_id"] == response.headers["x-request-id"]


class TubeIn(BaseModel):
    volume_ul: float = Field(gt=0)
    name: str


async def test_validation_error_names_each_bad_field(settings: Settings) -> None:
    app = create_app(settings)

    @app.post("/api/v1/tubes")
    async def create_tube(tube: TubeIn) -> TubeIn:
        return tube

    async with LifespanManager(app), _client(app) as client:
        response = await client.post("/api/v1/tubes", json={"volume_ul": -1})
    assert response.status_code == 422
    body = response.json()
    assert {error["field"] for error in body["errors"]} == {"volume_ul", "name"}
    assert "volume_ul" in body["detail"]


async def test_request_id_round_trips_and_is_on_every_log_line(settings: Settings, log_stream: io.StringIO) -> None:
    app = create_app(settings)
    configure_logging(json_logs=True, level="INFO", stream=log_stream)
    own = logging.getLogger("seqtrack.test")

    @app.get("/api/v1/chatty")
    async def chatty() -> dict[str, str]:
        own.info("first line from the handler")
        own.warning("second line from the handler")
        return {"ok": "yes"}

    async with LifespanManager(app), _client(app) as client:
        platform_logging.flush()
        log_stream.truncate(0)
        log_stream.seek(0)
        response = await client.get("/api/v1/chatty", headers={"X-Request-ID": "lab-bench-42"})
    assert response.headers["x-request-id"] == "lab-bench-42"
    # Background services started with the app may still be announcing themselves: not the request's lines.
    start_up = {"seqtrack started", "outbox relay started", "worker started"}
    lines = [line for line in _json_lines(log_stream) if line.get("event") not in start_up]
    assert len(lines) >= 3
    assert all(line.get("request_id") == "lab-bench-42" for line in lines), lines
    access = next(line for line in lines if line["event"] == "request")
    assert access["route"] == "/api/v1/chatty"
    assert access["method"] == "GET"
    assert access["status"] == 200
    assert "duration_ms" in access


async def test_an_unsafe_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


async def test_metrics_show_latency_buckets_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await client.get("/api/v1/nope")
    await client.get("/api/v1/samples/not-a-uuid")
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    # Routes of included routers are labelled with their full, prefixed template.
    assert 'route="/api/v1/samples/{sample_id}"' in text
    assert "http_requests_in_flight" in text
    assert "db_pool_size" in text
    assert "seqtrack_build_info" in text


async def test_security_headers_are_on_every_response(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in response.headers


async def test_hsts_only_over_tls(app: FastAPI) -> None:
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://seqtrack.example") as client:
            response = await client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_allows_only_configured_origins(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, cors_origins="https://lims.example.org")
    app = create_app(settings)
    async with LifespanManager(app), _client(app) as client:
        allowed = await client.get("/health", headers={"Origin": "https://lims.example.org"})
        refused = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://lims.example.org"
    assert "access-control-allow-origin" not in refused.headers


async def test_oversized_body_gets_413_problem(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, max_body_bytes=2048)
    app = create_app(settings)

    @app.post("/api/v1/echo")
    async def echo(body: dict[str, str]) -> dict[str, str]:
        return body

    async with LifespanManager(app), _client(app) as client:
        response = await client.post("/api/v1/echo", json={"notes": "x" * 5000})
        streamed = await client.post(
            "/api/v1/echo",
            content=_chunks(b'{"notes": "' + b"y" * 5000 + b'"}'),
            headers={"content-type": "application/json"},
        )
    for refused in (response, streamed):
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"


async def _chunks(data: bytes):  # type: ignore[no-untyped-def]
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


async def test_slow_handler_gets_504_problem(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, request_timeout_seconds=0.2)
    app = create_app(settings)

    @app.get("/api/v1/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"late": "yes"}

    async with LifespanManager(app), _client(app) as client:
        response = await client.get("/api/v1/slow")
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"


async def test_openapi_is_served_under_the_api_prefix(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "SeqTrack"
    docs = await client.get("/docs")
    assert docs.status_code == 200
