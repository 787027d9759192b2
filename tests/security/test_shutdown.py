"""Stopping a real server with live-feed clients connected: quick, each stream told, no traceback dump."""

from __future__ import annotations

import secrets
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.database import CHEAP_PASSWORD_HASHING
from tests.fixtures.processes import base_env, fleet, migrate_and_create_admin

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow

ADMIN_EMAIL = "stopping@facility.example"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
def test_the_server_stops_within_5_s_closing_each_live_feed_with_a_final_event(tmp_path: Path, workers: int) -> None:
    env = base_env(
        workers=str(workers),
        data_dir=str(tmp_path / "data"),
        secret_key=secrets.token_urlsafe(48),
        **{key: str(value) for key, value in CHEAP_PASSWORD_HASHING.items()},
    )
    password = migrate_and_create_admin(env, ADMIN_EMAIL, "stop")
    with fleet(tmp_path / "logs") as processes:
        [base] = processes.apis(["api"], env)
        [api] = processes.processes
        token = httpx.post(f"{base}/api/v1/auth/token", json={"email": ADMIN_EMAIL, "password": password}, timeout=10)
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with (
            httpx.Client(base_url=base, timeout=20, headers=headers) as one,
            httpx.Client(base_url=base, timeout=20, headers=headers) as two,
        ):
            with (
                one.stream("GET", "/api/v1/events/stream") as first,
                two.stream("GET", "/api/v1/events/stream") as second,
            ):
                streams = [first.iter_lines(), second.iter_lines()]
                for lines in streams:
                    assert next(lines).startswith("retry:")
                started = time.monotonic()
                api.popen.send_signal(signal.SIGTERM)
                endings = [list(lines) for lines in streams]
            api.popen.wait(10)
            took = time.monotonic() - started
    assert took < 5, f"the server took {took:.1f} s to stop"
    for ending in endings:
        assert "event: server-stopping" in ending, ending
    log = api.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "timeout graceful shutdown exceeded" not in log
