"""The web pages under load, read as a browser reads them: a real web session cookie, Accept: text/html.

Each page's figure that issue 13 sets a target for (p95 < 100 ms) is the **server time**: the
``duration_ms`` the server logs for every request (platform/middleware.py, from the first byte of
the request reaching the application to the last byte of the answer), read back from the server's
log for the requests of the measured run. wrk's own latency, over loopback, is reported beside it
as an upper bound that adds the client and the socket.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from bench.run import Bench, Scenario
    from bench.server import Server

HTML = "text/html,application/xhtml+xml"
# Pages other branches add; each is measured when this server has it (200 for the administrator).
OPTIONAL = [
    ("page: users (admin)", "/admin/users", "/admin/users"),
    ("page: storage", "/storage", "/storage"),
    ("page: sequencing runs", "/sequencing/runs", "/sequencing/runs"),
]


@dataclass(frozen=True)
class Page:
    name: str
    paths: list[str]
    route: str
    cookie: str


def web_session(server: Server, email: str, password: str) -> str:
    """Sign in as a browser does and return the Cookie header it would send."""
    from bench.run import API, TENANT

    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = client.post(f"{API}/auth/session", json={"email": email, "password": password, "tenant": TENANT})
        answer.raise_for_status()
        return "; ".join(f"{name}={value}" for name, value in answer.cookies.items())


def server_times(log: Path, offset: int, route: str) -> list[float]:
    """The durations (ms) the server logged for ``route`` after byte ``offset`` of its log."""
    durations = []
    with log.open("rb") as stream:
        stream.seek(offset)
        for line in stream:
            if not line.startswith(b"{") or b'"request"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "request" and entry.get("route") == route and "duration_ms" in entry:
                durations.append(float(entry["duration_ms"]))
    return durations


def percentile(values: list[float], wanted: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[wanted - 1]


def pages(bench: Bench, server: Server) -> list[Page]:
    from bench.run import ADMIN_EMAIL, API, SUBMITTER_EMAIL

    admin = web_session(server, ADMIN_EMAIL, bench.password)
    submitter = web_session(server, SUBMITTER_EMAIL, bench.submitter_password)
    token = bench.credential(server)
    with httpx.Client(base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        spread = bench.spread_samples(client)
    if not spread:
        raise RuntimeError(f"no samples to read: {API}/samples answered nothing")
    found = [
        Page("page: sign-in", ["/sign-in"], "/sign-in", ""),
        Page("page: dashboard", ["/"], "/", admin),
        Page("page: samples list", ["/samples"], "/samples", admin),
        Page("page: sample detail", [f"/samples/{item['id']}" for item in spread], "/samples/{sample_id}", admin),
        Page("page: submitter samples", ["/samples"], "/samples", submitter),
        Page("page: submitter dashboard", ["/"], "/", submitter),
    ]
    with httpx.Client(base_url=server.url, timeout=60, headers={"Cookie": admin, "Accept": HTML}) as browser:
        for name, path, route in OPTIONAL:
            if browser.get(path).status_code == 200:
                found.append(Page(name, [path], route, admin))
    return found


def scenarios(bench: Bench, server: Server) -> list[Scenario]:
    from bench.run import log

    # Server time is wall time: on a machine shared with other work it grows with the load
    # average, while server CPU per request does not. Both are reported, with the load.
    load_before = os.getloadavg()[0]
    measured = []
    connections = bench.options.page_connections
    for page in pages(bench, server):
        data = bench.write_lines("".join(c if c.isalnum() else "_" for c in page.name), page.paths)
        load = partial(
            bench.wrk_run, server, page.name, "paths", data, token="", cookie=page.cookie, accept=HTML,
            connections=connections,
        )  # fmt: skip
        if bench.options.warmup:
            load(seconds=bench.options.warmup, measured=False)
        offset = server.log.stat().st_size
        scenario = load()
        times = server_times(server.log, offset, page.route)
        scenario.server_requests = len(times)
        scenario.server_p50_ms = percentile(times, 50)
        scenario.server_p95_ms = percentile(times, 95)
        scenario.note = (
            f"{connections} connection{'' if connections == 1 else 's'}; server time from the server's request log"
        )
        log(
            f"  {page.name:<26} server p50 {scenario.server_p50_ms:6.1f} ms  p95 {scenario.server_p95_ms:6.1f} ms"
            f"  ({len(times)} logged)  wrk p95 {scenario.p95_ms:6.1f} ms"
        )
        measured.append(scenario)
    machine = f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    for scenario in measured:
        scenario.note += f"; {machine}"
    return measured
