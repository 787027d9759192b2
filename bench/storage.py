"""The storage scenario: a 10 × 10 box holding 60 tubes, its grid read over and over.

`make bench` runs it on every series (``box grid 10×10`` in docs/benchmarks.md).
On its own, it needs no seeded facility and takes under a minute:

    .venv/bin/python -m bench.storage            # SQLite, in a scratch directory
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

API = "/api/v1"
BOX_ROWS = BOX_COLUMNS = 10
TUBES = 60
SCENARIO = "box grid 10×10"
TARGET_MS = 100.0


def prepare_box(client: httpx.Client, sample_ids: list[str]) -> str:
    """A −80 °C freezer, a rack and a 10 × 10 box filled with 60 of these samples; the grid's path."""
    if len(sample_ids) < TUBES:
        raise RuntimeError(f"the box scenario needs {TUBES} samples, got {len(sample_ids)}")
    unit = client.post(
        f"{API}/storage/units", json={"name": "Bench freezer", "kind": "freezer", "zone": "minus_80"}
    ).raise_for_status()
    rack = client.post(
        f"{API}/storage/containers", json={"name": "Rack 1", "kind": "rack", "unit_id": unit.json()["id"]}
    ).raise_for_status()
    box = client.post(
        f"{API}/storage/containers",
        json={
            "name": f"Box {secrets.token_hex(2)}",
            "kind": "box",
            "parent_id": rack.json()["id"],
            "rows": BOX_ROWS,
            "columns": BOX_COLUMNS,
        },
    ).raise_for_status()
    box_id = box.json()["id"]
    client.post(f"{API}/storage/boxes/{box_id}/fill", json={"sample_ids": sample_ids[:TUBES]}).raise_for_status()
    return f"{API}/storage/boxes/{box_id}/grid"


def main() -> None:
    """Serve a fresh SQLite facility, fill one box, and time its grid sequentially (server CPU per request)."""
    from bench.run import ADMIN_EMAIL, BIN, TENANT, Options, Series, fresh_database, log, log_in, seqtrack
    from bench.server import start

    options = Options(
        threads=1, connections=1, write_connections=1, duration=1, warmup=0, export_rows=0, bulk_rounds=0,
        idle_seconds=0, auth="token", profile_seconds=0, postgres="",
    )  # fmt: skip
    password = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="seqtrack-bench-storage-") as scratch:
        data = Path(scratch)
        with fresh_database(Series("sqlite", 0, (1,)), options, data) as env:
            seqtrack(env, "db", "upgrade")
            seqtrack(
                env, "admin", "create", "--email", ADMIN_EMAIL, "--tenant", TENANT, "--password-stdin",
                stdin=password + "\n",
            )  # fmt: skip
            server = start(BIN / "seqtrack", env, 1, data / "server.log")
            try:
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    client.headers["Authorization"] = f"Bearer {log_in(client, password)['access_token']}"
                    ids = [
                        client.post(f"{API}/samples", json={"name": f"Tube {n:02d}", "sample_type": "hmw_dna"})
                        .raise_for_status()
                        .json()["id"]
                        for n in range(TUBES)
                    ]
                    path = prepare_box(client, ids)
                    for _ in range(20):
                        client.get(path).raise_for_status()
                    rounds = 200
                    durations = []
                    cpu_before = server.cpu_seconds()
                    for _ in range(rounds):
                        started = time.perf_counter()
                        client.get(path).raise_for_status()
                        durations.append((time.perf_counter() - started) * 1000)
                    cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / rounds
            finally:
                server.stop()
    p50 = statistics.median(durations)
    verdict = "met" if cpu_ms < TARGET_MS else "MISSED"
    log(
        f"{SCENARIO} with {TUBES} tubes, {rounds} sequential requests: p50 {p50:.1f} ms, "
        f"server CPU {cpu_ms:.2f} ms/request (target < {TARGET_MS:.0f} ms: {verdict})"
    )
    if verdict != "met":
        sys.exit(1)


if __name__ == "__main__":
    main()
