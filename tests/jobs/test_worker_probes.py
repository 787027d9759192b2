"""A worker's metrics port answers the orchestrator's probes: /health, /ready, /metrics."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from seqtrack.platform import migrations
from tests.fixtures.database import make_settings
from tests.fixtures.processes import base_env, fleet, free_port


def _get(url: str, deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_worker_answers_health_ready_and_metrics_on_its_port(tmp_path: Path) -> None:
    data = tmp_path / "data"
    migrations.upgrade(make_settings(data))
    port = free_port()
    env = base_env(data_dir=str(data), worker_metrics_port=str(port), password_hash_memory_kib="1024")
    with fleet(tmp_path / "logs") as processes:
        worker = processes.worker("worker", env)
        deadline = time.monotonic() + 30
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/health", deadline).json() == {"status": "ok"}
        while (ready := _get(f"{base}/ready", deadline)).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.2)
        assert "seqtrack_job_queue_depth" in _get(f"{base}/metrics", deadline).text

        # A schema this worker does not know: not ready, saying why.
        connection = sqlite3.connect(data / "seqtrack.db")
        connection.execute("UPDATE alembic_version SET version_num = '0099_future'")
        connection.commit()
        connection.close()
        answer = _get(f"{base}/ready", deadline)
        assert answer.status_code == 503
        assert "migrations not at head" in answer.json()["detail"]
        assert worker.popen.poll() is None
