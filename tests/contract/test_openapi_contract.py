"""The published OpenAPI document is a contract: generated requests never crash the server.

Schemathesis reads ``/api/v1/openapi.json`` from a real ``seqtrack serve``
process (migrated SQLite, and again on PostgreSQL; a real administrator created
by ``seqtrack admin create``) and sends every operation generated and
boundary-value requests with that administrator's token. A 5xx, an undocumented
content type, or a response that contradicts its own schema fails the test, and
so does an operation never called.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks as openapi_checks

from tests.fixtures.database import fresh_postgres_database
from tests.fixtures.processes import base_env, fleet, migrate_and_create_admin

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow

ADMIN_EMAIL = "contract-admin@facility.example"

# Examples per operation. PostgreSQL's run repeats SQLite's with fewer, to stay within a minute of the suite:
# the engine-specific failures (types, constraints, locks) show on the first few cases of an operation.
EXAMPLES = {"sqlite": 12, "postgres": 4}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def contract_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, str]]:
    backend = str(request.param)
    data_dir = tmp_path_factory.mktemp(f"contract-{backend}")
    if backend == "sqlite":
        yield from _serve(backend, data_dir, {})
        return
    with contextmanager(fresh_postgres_database)(data_dir) as url:
        yield from _serve(backend, data_dir, {"database_url": url})


def _serve(backend: str, data_dir: Path, database: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    env = base_env(
        **database,
        data_dir=str(data_dir),
        secret_key=secrets.token_urlsafe(48),
        log_level="WARNING",
        # Schemathesis sends everything with one token, faster than any person; 429s would hide 5xx.
        rate_limit_reads="1000000/minute",
        rate_limit_writes="1000000/minute",
        rate_limit_exports="1000000/minute",
    )
    password = migrate_and_create_admin(env, ADMIN_EMAIL, "contract")
    with fleet(data_dir / "logs") as processes:
        [base_url] = processes.apis(["contract-api"], env)
        response = httpx.post(
            f"{base_url}/api/v1/auth/token", json={"email": ADMIN_EMAIL, "password": password}, timeout=10
        )
        response.raise_for_status()
        yield backend, base_url, response.json()["access_token"]


@pytest.fixture(scope="module")
def contract_schema(contract_server: tuple[str, str, str]) -> tuple[schemathesis.BaseSchema, int]:
    backend, base_url, token = contract_server
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    schema.config.update(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
    schema.config.generation.update(max_examples=EXAMPLES[backend])
    return schema.exclude(path_regex=NOT_GENERATED), EXAMPLES[backend]


# Logging out (or replacing the session) would revoke the token the rest of the run relies on;
# the live feed never ends a response. Each has tests of its own (tests/identity, tests/events).
NOT_GENERATED = r"/auth/(logout|session)$|/events/stream$"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


CHECKS = [
    checks.not_a_server_error,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


def test_every_operation_honours_its_published_contract(
    contract_schema: tuple[schemathesis.BaseSchema, int],
) -> None:
    api_schema, examples = contract_schema
    failures: dict[str, str] = {}
    exercised: set[str] = set()
    operations = [result.ok() for result in api_schema.get_all_operations() if isinstance(result, Ok)]
    assert operations
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def honours_contract(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(checks=CHECKS)
            exercised.add(case.operation.label)

        try:
            honours_contract()
        except Exception as failure:  # every operation is tried; all failures are reported together
            failures[operation.label] = str(failure)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())

    # Every operation the API publishes was called at least once, apart from those named above.
    published = {
        f"{method.upper()} {path}"
        for path, operations_of_path in api_schema.raw_schema["paths"].items()
        for method in operations_of_path
        if method in HTTP_METHODS and not re.search(NOT_GENERATED, path)
    }
    assert published
    assert published - exercised == set(), f"operations never exercised: {sorted(published - exercised)}"
