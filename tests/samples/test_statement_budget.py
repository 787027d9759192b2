"""The request path's statement budget: a guard that counts, never times.

A signed-in technician's list, read, create and transition each send a fixed,
small number of statements, whatever the table holds. A query added to one of
these paths (an N+1, a second look at the account, a re-read after a write)
fails here with the statements listed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from seqtrack.app import create_app
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.database import make_settings
from tests.fixtures.http import asgi_client
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import sample_body
from tests.fixtures.statements import Statements, counting_statements
from tests.identity.helpers import access_token, bearer

API = "/api/v1/samples"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
# Statements that read or change samples, once the facility's rules are known.
BUDGET = {"list": 1, "get": 1, "create": 7, "transition": 6}
# Who is calling costs one statement at most, none while the caller is cached.
CALLER_TABLES = ("users", "memberships", "refresh_tokens", "api_keys", "web_sessions", "tenants")


@pytest.fixture
async def quiet_app(tmp_path: Path, database_url: str) -> FastAPI:
    # No embedded worker or relay: their statements would mix with the request's.
    return create_app(make_settings(tmp_path / "data", database_url, embedded_worker="off"))


@pytest.fixture
async def signed_in(quiet_app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with asgi_client(quiet_app) as client:
        database: Database = quiet_app.state.database
        member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
        yield client, bearer(await access_token(client, member))


def _is_caller_lookup(statement: str) -> bool:
    return statement.startswith("SELECT") and any(f"FROM {table}" in statement for table in CALLER_TABLES)


def _data_statements(statements: Statements) -> list[str]:
    """The request's own statements: no transaction control, no look-up of the caller."""
    return [
        sent for sent in statements.sent if not sent.startswith(TRANSACTION_CONTROL) and not _is_caller_lookup(sent)
    ]


def _caller_lookups(statements: Statements) -> list[str]:
    return [sent for sent in statements.sent if _is_caller_lookup(sent)]


async def test_list_read_create_and_transition_stay_within_their_statement_budget(
    quiet_app: FastAPI, signed_in: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, headers = signed_in
    database: Database = quiet_app.state.database
    # The first request of a caller and of a facility fills the caches every later one uses.
    warm = await client.post(API, json=sample_body(notes="n" * 2000), headers=headers)
    assert warm.status_code == 201, warm.text
    sample_id = warm.json()["id"]

    requests: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
        "list": lambda: client.get(API, headers=headers),
        "get": lambda: client.get(f"{API}/{sample_id}", headers=headers),
        "create": lambda: client.post(API, json=sample_body(notes="n" * 2000), headers=headers),
        "transition": lambda: client.post(f"{API}/{sample_id}/transitions", json={"to": "received"}, headers=headers),
    }
    for name, send in requests.items():
        with counting_statements(database) as statements:
            response = await send()
        assert response.status_code in (200, 201), response.text
        sent = _data_statements(statements)
        assert len(sent) <= BUDGET[name], f"{name} sent {len(sent)} statements:\n{statements}"
        assert len(_caller_lookups(statements)) <= 1, f"{name} looked up the caller more than once:\n{statements}"
        # A write is one transaction: one BEGIN and one COMMIT at most, never a second unit of work.
        control = [statement for statement in statements.sent if statement.startswith(("BEGIN", "COMMIT"))]
        assert len(control) <= (2 if name in ("create", "transition") else 0), f"{name}:\n{statements}"


async def test_a_list_page_costs_the_same_statements_for_500_rows_as_for_one(
    quiet_app: FastAPI, signed_in: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, headers = signed_in
    database: Database = quiet_app.state.database
    bulk = [client.post(API, json=sample_body(), headers=headers) for _ in range(30)]
    for created in bulk:
        assert (await created).status_code == 201
    with counting_statements(database) as one_row:
        assert (await client.get(API, params={"limit": 1}, headers=headers)).status_code == 200
    with counting_statements(database) as many_rows:
        page = await client.get(API, params={"limit": 500}, headers=headers)
    assert len(page.json()["items"]) == 30
    assert len(_data_statements(many_rows)) == len(_data_statements(one_row)) == BUDGET["list"], str(many_rows)
