"""The embedded default under load: many writers, two processes, one SQLite file, nothing lost.

Writers inside one process queue for the write connection; writers in other
processes wait on SQLite's busy timeout. Neither may surface as "database is
locked" to a client.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import base_env, fleet, run_cli
from tests.fixtures.samples import sample_body

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow

WRITES = 200


async def test_two_hundred_concurrent_writes_through_two_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    env = base_env(data_dir=str(tmp_path / "data"), secret_key=secrets.token_urlsafe(48), log_level="INFO")
    password = secrets.token_urlsafe(18)
    run_cli("db", "upgrade", env=env)
    run_cli(
        "admin", "create", "--email", "bench@facility.example", "--tenant", "core", "--password-stdin",
        env=env, stdin=password + "\n",
    )  # fmt: skip
    with fleet(tmp_path / "logs") as processes:
        urls = processes.apis(["api-a", "api-b"], env)
        async with httpx.AsyncClient(timeout=60) as client:
            login = await client.post(
                f"{urls[0]}/api/v1/auth/token", json={"email": "bench@facility.example", "password": password}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            responses = await asyncio.gather(
                *(
                    client.post(f"{urls[n % 2]}/api/v1/samples", json=sample_body(name=f"tube-{n}"), headers=headers)
                    for n in range(WRITES)
                )
            )
            listed = await client.get(f"{urls[1]}/api/v1/samples?limit=1", headers=headers)
        logs = "\n".join(process.log_path.read_text(errors="replace") for process in processes.processes)

    failures = [(response.status_code, response.text[:200]) for response in responses if response.status_code != 201]
    assert failures == []
    assert len({response.json()["human_id"] for response in responses}) == WRITES
    assert listed.status_code == 200
    assert "database is locked" not in logs
    verified = run_cli("audit", "verify", env=env)
    assert "intact" in verified.stdout
