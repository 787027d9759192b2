"""Shared fixtures: every backend-dependent test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from seqtrack.app import create_app
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.database import (
    empty_all_tables,
    fresh_postgres_database,
    make_settings,
    migrated_sqlite_template,
    sqlite_copy,
)
from tests.fixtures.http import asgi_client
from tests.fixtures.services import IN_CI, SERVICES

_skipped_services: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    for service in SERVICES.values():
        config.addinivalue_line("markers", f"{service.marker}: needs a running {service.name}")
    config.addinivalue_line("markers", "browser: a journey in Debian's Chromium against a live server")
    config.addinivalue_line("markers", "slow: among the slowest tests; collected first so that workers finish together")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Longest first: the parallel run's last minutes are not one worker on one long test.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    needed = {name for name, service in SERVICES.items() for item in items if item.get_closest_marker(service.marker)}
    missing = [SERVICES[name] for name in sorted(needed) if not SERVICES[name].answers()]
    if not missing:
        return
    if IN_CI:
        names = ", ".join(f"{service.name} at {service.url}" for service in missing)
        pytest.exit(f"CI needs these servers and they do not answer: {names}", returncode=3)
    for service in missing:
        _skipped_services.add(service.name)
        skip = pytest.mark.skip(reason=f"{service.name} is not running at {service.url}")
        for item in items:
            if item.get_closest_marker(service.marker):
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_services:
        terminalreporter.write_line(
            "SKIPPED tests needing: "
            + ", ".join(sorted(_skipped_services))
            + " (start them to run everything; CI always does)",
            yellow=True,
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from fresh_postgres_database(tmp_path_factory.mktemp("pg"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield sqlite_copy(sqlite_template, tmp_path / "data")
        return
    url: str = request.getfixturevalue("postgres_url")
    await empty_all_tables(url)
    yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as http:
        yield http
