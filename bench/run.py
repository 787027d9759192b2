"""`make bench`: a real `seqtrack serve` under wrk over loopback, authentication included.

For each database and volume (SQLite 10 k and 100 k, PostgreSQL 10 k and 1 M
samples) the harness makes a fresh database, migrates it with `seqtrack db
upgrade`, creates an administrator with `seqtrack admin create`, starts
`seqtrack serve` on a free loopback port, logs in over HTTP, creates labs and
an API key (what a sequencing pipeline uses), seeds the samples (`python -m
bench.seed`), and drives the server with wrk (Lua scripts under bench/lua vary
ids, bodies and queries). Bulk transitions and the CSV export are timed with
httpx. Server CPU and peak memory come from /proc. The results replace the
generated part of docs/benchmarks.md.

    .venv/bin/python -m bench.run            # everything (~20 min)
    .venv/bin/python -m bench.run --quick    # 10 k only, short runs (~3 min)
    .venv/bin/python -m bench.run --quick --only sqlite --pages-only   # the web pages alone

Pages are read with a real web session (cookies from POST /api/v1/auth/session), as
the facility administrator and as a submitter of three labs; each page's server time
comes from the duration the server logs for every request (bench/pages.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx

from bench import intake, pages, profile, report, storage
from bench.server import Server, start

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua"
BIN = Path(sys.executable).parent
TENANT = "bench"
ADMIN_EMAIL = "bench-admin@example.org"
SUBMITTER_EMAIL = "bench-submitter@example.org"
API = "/api/v1"
LABS = [
    "Microbial Genomics", "Cancer Genomics", "Plant Sciences", "Population Genetics", "Virology",
    "Neurogenomics", "Marine Biology", "Immunology", "Evolutionary Biology", "Clinical Sequencing",
    "Single Cell Core", "Structural Variation",
]  # fmt: skip
FILTER_STATES = ["received", "qc", "library_prep", "sequencing", "analysis", "delivered", "on_hold"]


@dataclass(frozen=True)
class Series:
    database: str  # "sqlite" or "postgresql"
    samples: int
    workers: tuple[int, ...]


FULL = [
    Series("sqlite", 10_000, (1, 2)),
    Series("sqlite", 100_000, (1,)),
    Series("postgresql", 10_000, (1, 2)),
    Series("postgresql", 1_000_000, (1,)),
]
QUICK = [Series("sqlite", 10_000, (1,)), Series("postgresql", 10_000, (1,))]


@dataclass
class Options:
    threads: int
    connections: int
    write_connections: int
    duration: int
    warmup: int
    export_rows: int
    bulk_rounds: int
    idle_seconds: int
    auth: str
    profile_seconds: int
    postgres: str
    page_connections: int = 1
    pages_only: bool = False


@dataclass
class Scenario:
    name: str
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    peak_rss_mb: float
    connections: int
    note: str = ""
    p95_ms: float = 0.0
    # Pages: what the server itself logged for each request of the scenario.
    server_p50_ms: float | None = None
    server_p95_ms: float | None = None
    server_requests: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Run:
    database: str
    samples: int
    workers: int
    scenarios: list[Scenario] = field(default_factory=list)
    profile: list[dict[str, object]] = field(default_factory=list)
    profile_note: str = ""

    def floor(self, which: str) -> float:
        return next(s.rate for s in self.scenarios if s.name == f"health ({which})")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)  # noqa: T201


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing it from Debian's packages")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=False).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], check=True)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


@contextmanager
def fresh_database(series: Series, options: Options, scratch: Path) -> Iterator[dict[str, str]]:
    """The environment of a `seqtrack` process using a brand-new database, dropped afterwards."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SEQTRACK_") and key != "PYTHONPATH"}
    env.update(
        SEQTRACK_DATA_DIR=str(scratch),
        SEQTRACK_SECRET_KEY=secrets.token_urlsafe(48),
        SEQTRACK_QUEUE_NAME=f"bench-{secrets.token_hex(4)}",
        # One JSON line per request: the page scenarios read each request's server time from it.
        SEQTRACK_LOG_FORMAT="json",
        # One token drives thousands of requests a second here; the limits guard real deployments.
        SEQTRACK_RATE_LIMIT_READS="100000000/minute",
        SEQTRACK_RATE_LIMIT_WRITES="100000000/minute",
        SEQTRACK_RATE_LIMIT_EXPORTS="100000000/minute",
        PYTHONPATH=str(ROOT),
    )
    if series.database == "sqlite":
        yield env
        return
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"seqtrack_bench_{secrets.token_hex(4)}"
    admin = make_url(options.postgres).set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    env["SEQTRACK_DATABASE_URL"] = make_url(options.postgres).set(database=name).render_as_string(hide_password=False)
    try:
        yield env
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def seqtrack(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(BIN / "seqtrack"), *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"seqtrack {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def log_in(client: httpx.Client, password: str) -> dict[str, str]:
    answer = client.post(f"{API}/auth/token", json={"email": ADMIN_EMAIL, "password": password, "tenant": TENANT})
    answer.raise_for_status()
    tokens: dict[str, str] = answer.json()
    return tokens


class Bench:
    def __init__(self, options: Options, wrk: str, scratch: Path) -> None:
        self.options = options
        self.wrk = wrk
        self.scratch = scratch
        self.password = secrets.token_urlsafe(18)
        self.submitter_password = secrets.token_urlsafe(18)
        self.api_key = ""
        self.refresh_token = ""
        self.idle_measured = False

    # --- credentials -------------------------------------------------------------------------

    def credential(self, server: Server) -> str:
        """What wrk sends as the bearer: the API key, or a fresh access token (they expire)."""
        if self.options.auth == "key":
            return self.api_key
        # Refreshed rather than logged in again: log-in is rate limited per account (and costs an argon2 hash).
        with httpx.Client(base_url=server.url, timeout=60) as client:
            answer = client.post(f"{API}/auth/refresh", json={"refresh_token": self.refresh_token})
            answer.raise_for_status()
            self.refresh_token = answer.json()["refresh_token"]
            token: str = answer.json()["access_token"]
            return token

    def prepare_facility(self, server: Server) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            tokens = log_in(client, self.password)
            self.refresh_token = tokens["refresh_token"]
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            for index, name in enumerate(LABS):
                answer = client.post(f"{API}/labs", json={"name": name, "code": f"L{index:02d}"}, headers=headers)
                answer.raise_for_status()
            me = client.get(f"{API}/me", headers=headers)
            me.raise_for_status()
            answer = client.post(
                f"{API}/api-keys",
                json={"name": "sequencing pipeline (bench)", "permissions": me.json()["permissions"]},
                headers=headers,
            )
            answer.raise_for_status()
            self.api_key = answer.json()["key"]
            # A submitter of three labs: the submitter view pages read only their samples.
            labs = [lab["id"] for lab in client.get(f"{API}/labs", headers=headers).json()["items"]][:3]
            answer = client.post(
                f"{API}/users",
                json={
                    "email": SUBMITTER_EMAIL,
                    "display_name": "Bench submitter",
                    "password": self.submitter_password,
                    "role": "submitter",
                    "lab_ids": labs,
                },
                headers=headers,
            )
            answer.raise_for_status()

    # --- data the scripts pick from ------------------------------------------------------------

    def page_ids(self, client: httpx.Client, params: dict[str, str | int], wanted: int) -> list[dict[str, str]]:
        items: list[dict[str, str]] = []
        cursor = None
        while len(items) < wanted:
            query = {**params, "limit": min(500, wanted - len(items))}
            if cursor:
                query["cursor"] = cursor
            answer = client.get(f"{API}/samples", params=query)
            answer.raise_for_status()
            page = answer.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        return items

    def spread_samples(self, client: httpx.Client) -> list[dict[str, str]]:
        """About 4,000 samples from old and new, every state, for reads by id and searches."""
        found: dict[str, dict[str, str]] = {}
        for sort in ("-created_at", "created_at", "due", "-priority"):
            for status in ("submitted", "received", "archived", "delivered", "qc"):
                for item in self.page_ids(client, {"sort": sort, "status": status}, 200):
                    found[item["id"]] = item
        return list(found.values())

    def write_lines(self, name: str, lines: list[str]) -> Path:
        path = self.scratch / f"{name}.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    # --- measuring -------------------------------------------------------------------------------

    def wrk_run(
        self,
        server: Server,
        name: str,
        script: str,
        data: Path | None,
        *,
        token: str,
        connections: int | None = None,
        seconds: int | None = None,
        measured: bool = True,
        cookie: str = "",
        accept: str = "",
    ) -> Scenario:
        connections = connections or self.options.connections
        threads = min(self.options.threads, connections)
        seconds = seconds or self.options.duration
        combined = self.scratch / f"{script}.lua"
        combined.write_text((LUA / "common.lua").read_text() + "\n" + (LUA / f"{script}.lua").read_text())
        env = {
            **os.environ,
            "BENCH_TOKEN": token,
            "BENCH_DATA": str(data or ""),
            "BENCH_THREADS": str(threads),
            "BENCH_TAG": secrets.token_hex(3),
            "BENCH_COOKIE": cookie,
            "BENCH_ACCEPT": accept,
        }
        command = [
            self.wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s",
            "-s", str(combined), server.url,
        ]  # fmt: skip
        cpu_before = server.cpu_seconds()
        with server.watch_rss() as rss:
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        cpu_used = server.cpu_seconds() - cpu_before
        line = next((row for row in done.stdout.splitlines() if row.startswith("BENCH_RESULT ")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed for {name}: {done.stdout[-1500:]} {done.stderr[-1500:]}")
        result = json.loads(line.removeprefix("BENCH_RESULT "))
        scenario = Scenario(
            name=name,
            requests=result["requests"],
            seconds=result["duration_us"] / 1e6,
            non_2xx=result["non_2xx"],
            socket_errors=result["connect_errors"] + result["read_errors"] + result["write_errors"]
            + result["timeouts"],
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
            cpu_ms_per_request=cpu_used * 1000 / max(result["requests"], 1),
            peak_rss_mb=rss.peak_mb,
            connections=connections,
            p95_ms=result["p95_us"] / 1000,
        )  # fmt: skip
        if measured:
            log(
                f"  {name:<22} {scenario.rate:8.1f} req/s  p50 {scenario.p50_ms:7.1f} ms  p99 {scenario.p99_ms:7.1f}"
                f" ms  cpu {scenario.cpu_ms_per_request:6.2f} ms/req  non-2xx {scenario.non_2xx}"
                f"  rss {scenario.peak_rss_mb:.0f} MB"
            )
        return scenario

    def timed(self, server: Server, name: str, calls: list[tuple[str, str, dict[str, object]]]) -> Scenario:
        """A handful of big requests, one after another (bulk transitions)."""
        token = self.credential(server)
        durations, failures = [], 0
        cpu_before = server.cpu_seconds()
        with (
            server.watch_rss() as rss,
            httpx.Client(base_url=server.url, timeout=600, headers={"Authorization": f"Bearer {token}"}) as client,
        ):
            for method, path, body in calls:
                started = time.perf_counter()
                answer = client.request(method, path, json=body)
                durations.append(time.perf_counter() - started)
                if not answer.is_success:
                    failures += 1
                    log(f"  {name}: {answer.status_code} {answer.text[:300]}")
        cpu_used = server.cpu_seconds() - cpu_before
        scenario = Scenario(
            name=name,
            requests=len(calls),
            seconds=sum(durations),
            non_2xx=failures,
            socket_errors=0,
            p50_ms=statistics.median(durations) * 1000,
            p99_ms=max(durations) * 1000,
            cpu_ms_per_request=cpu_used * 1000 / len(calls),
            peak_rss_mb=rss.peak_mb,
            connections=1,
            note=f"{len(calls)} requests in a row; p99 column is the slowest",
        )
        log(f"  {name:<22} median {scenario.p50_ms:8.0f} ms  cpu {scenario.cpu_ms_per_request:6.0f} ms/req")
        return scenario

    def export(self, server: Server, limit: int) -> Scenario:
        token = self.credential(server)
        cpu_before = server.cpu_seconds()
        rows, status = -1, 0
        started = time.perf_counter()
        with (
            server.watch_rss() as rss,
            httpx.Client(base_url=server.url, timeout=600, headers={"Authorization": f"Bearer {token}"}) as client,
            client.stream("GET", f"{API}/samples/export.csv") as answer,
        ):
            status = answer.status_code
            first_byte = time.perf_counter() - started
            for line in answer.iter_lines():
                if line:
                    rows += 1
                if rows >= limit:
                    break
        elapsed = time.perf_counter() - started
        cpu_used = server.cpu_seconds() - cpu_before
        scenario = Scenario(
            name=f"export {rows:,} rows",
            requests=1,
            seconds=elapsed,
            non_2xx=0 if 200 <= status < 300 else 1,
            socket_errors=0,
            p50_ms=first_byte * 1000,
            p99_ms=elapsed * 1000,
            cpu_ms_per_request=cpu_used * 1000,
            peak_rss_mb=rss.peak_mb,
            connections=1,
            note=f"{rows / elapsed:,.0f} rows/s streamed; p50 column is the first byte, p99 the whole",
        )
        log(f"  {scenario.name:<22} {elapsed:6.1f} s ({rows / elapsed:,.0f} rows/s)  cpu {cpu_used:.1f} s")
        return scenario

    # --- one server, every scenario ------------------------------------------------------------

    def scenarios(self, server: Server, run: Run, profile_list: bool) -> None:
        options = self.options
        token = self.credential(server)
        with httpx.Client(base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
            spread = self.spread_samples(client)
            received = [item["id"] for item in self.page_ids(client, {"status": "received"}, 4000)]
            submitted = [item["id"] for item in self.page_ids(client, {"status": "submitted"}, 1000)]
            labs = [lab["id"] for lab in client.get(f"{API}/labs").json()["items"]]
        chance = random.Random(run.samples + run.workers)
        by_id = self.write_lines("get", [f"{API}/samples/{item['id']}" for item in spread])
        filtered = [f"{API}/samples?limit=50&status={state}" for state in FILTER_STATES]
        filtered += [f"{API}/samples?limit=50&status=received&priority=high"]
        filtered += [f"{API}/samples?limit=50&lab_id={lab}" for lab in labs[:3]]
        by_filter = self.write_lines("filtered", filtered)
        terms = []
        for item in spread:
            barcode = item.get("barcode") or ""
            if barcode.startswith("TB") and len(barcode) == 11:
                start_at = chance.randint(2, 5)
                terms.append(barcode[start_at : start_at + 6])
        by_search = self.write_lines("search", [f"{API}/samples?limit=50&q={term}" for term in terms[:1000]])
        first_page = self.write_lines("list", [f"{API}/samples?limit=50"])
        health = self.write_lines("health", ["/health"])
        movers = self.write_lines("transition", received)

        run.scenarios.append(self.wrk_run(server, "health (first)", "paths", health, token=""))
        with httpx.Client(base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
            # A box of its own per run: each worker count of a series fills one with other tubes.
            tubes = received[len(received) - storage.TUBES * run.workers :][: storage.TUBES]
            box_grid = self.write_lines("box", [storage.prepare_box(client, tubes)])
        reads = [("list 50", first_page), ("list filtered", by_filter), ("search", by_search), ("get one", by_id)]
        reads += [(storage.SCENARIO, box_grid)]
        for name, data in reads:
            token = self.credential(server)
            if options.warmup:
                self.wrk_run(
                    server, name, "paths", data, token=token, connections=4, seconds=options.warmup, measured=False
                )
            run.scenarios.append(self.wrk_run(server, name, "paths", data, token=token))
            if name == "list 50" and profile_list:
                seconds = options.profile_seconds
                load = partial(self.wrk_run, server, name, "paths", data, token=token, seconds=seconds, measured=False)
                run.profile, run.profile_note = profile.record(server, options.profile_seconds, load)
        writes = options.write_connections
        token = self.credential(server)
        run.scenarios.append(self.wrk_run(server, "create", "create", None, token=token, connections=writes))
        server.settle()
        token = self.credential(server)
        if len(received) < 8 * writes:
            raise RuntimeError(f"only {len(received)} received samples to move; seed more")
        run.scenarios.append(self.wrk_run(server, "transition", "transition", movers, token=token, connections=writes))
        self.resume_held(server, set(received))
        server.settle()
        rounds = [
            ("received", None),
            ("on_hold", "Waiting for the submitter to confirm the volume"),
            ("received", None),
            ("qc", None),
        ][: options.bulk_rounds]
        calls: list[tuple[str, str, dict[str, object]]] = [
            ("POST", f"{API}/samples/transitions", {"sample_ids": submitted, "to": to, "reason": reason})
            for to, reason in rounds
        ]
        run.scenarios.append(self.timed(server, f"bulk transition {len(submitted):,}", calls))
        server.settle()
        run.scenarios.append(self.export(server, options.export_rows))
        server.settle()
        run.scenarios += pages.scenarios(self, server)
        server.settle()
        run.scenarios.append(self.wrk_run(server, "health (last)", "paths", health, token=""))

    def resume_held(self, server: Server, moved: set[str]) -> None:
        """Put the samples the transition scenario left on hold back to received, for the next series."""
        token = self.credential(server)
        with httpx.Client(base_url=server.url, timeout=600, headers={"Authorization": f"Bearer {token}"}) as client:
            held = [item["id"] for item in self.page_ids(client, {"status": "on_hold"}, 10**7) if item["id"] in moved]
            for first in range(0, len(held), 1000):
                answer = client.post(
                    f"{API}/samples/transitions", json={"sample_ids": held[first : first + 1000], "to": "received"}
                )
                answer.raise_for_status()

    def series(self, series: Series, profile_at: tuple[str, int] | None) -> tuple[list[Run], dict[str, float]]:
        runs: list[Run] = []
        extras: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix="seqtrack-bench-") as data_dir:
            data = Path(data_dir)
            with fresh_database(series, self.options, data) as env:
                label = f"{series.database} {series.samples:,}"
                log(f"{label}: migrating, creating the administrator")
                started = time.perf_counter()
                seqtrack(env, "db", "upgrade")
                seqtrack(
                    env, "admin", "create", "--email", ADMIN_EMAIL, "--tenant", TENANT, "--password-stdin",
                    stdin=self.password + "\n",
                )  # fmt: skip
                server = start(BIN / "seqtrack", env, series.workers[0], data / "server.log")
                try:
                    self.prepare_facility(server)
                    log(f"{label}: seeding")
                    seeded = time.perf_counter()
                    subprocess.run(
                        [sys.executable, "-m", "bench.seed", "--tenant", TENANT, "--samples", str(series.samples)],
                        env=env,
                        check=True,
                    )
                    extras["seed_seconds"] = time.perf_counter() - seeded
                    for index, workers in enumerate(series.workers):
                        if index:
                            server.stop()
                            server = start(BIN / "seqtrack", env, workers, data / "server.log")
                        log(f"{label}, {workers} worker(s), pid {server.pid}: scenarios")
                        run = Run(series.database, series.samples, workers)
                        if self.options.pages_only:
                            run.scenarios += pages.scenarios(self, server)
                        else:
                            profiled = profile_at == (series.database, series.samples) and index == 0
                            self.scenarios(server, run, profiled)
                        runs.append(run)
                    # Once, on the embedded default (`make run`): SQLite, embedded worker and relay.
                    if (
                        series.database == "sqlite"
                        and self.options.idle_seconds
                        and not self.idle_measured
                        and not self.options.pages_only
                    ):
                        self.idle_measured = True
                        server.stop()
                        server = start(BIN / "seqtrack", env, 1, data / "server.log")
                        log(f"{label}: idle server for {self.options.idle_seconds} s")
                        time.sleep(2)
                        before = server.cpu_seconds()
                        time.sleep(self.options.idle_seconds)
                        extras["idle_cpu_seconds"] = server.cpu_seconds() - before
                        extras["idle_seconds"] = self.options.idle_seconds
                        log(f"  idle CPU {extras['idle_cpu_seconds']:.2f} s")
                finally:
                    server.stop()
                log(f"{label}: done in {time.perf_counter() - started:.0f} s")
        return runs, extras


def version_wall_seconds() -> list[float]:
    durations = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([str(BIN / "seqtrack"), "--version"], check=True, capture_output=True)
        durations.append(time.perf_counter() - started)
    return durations


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 k samples, 1 worker, 3 s per scenario.")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="One database only.")
    parser.add_argument("--duration", type=int, help="Seconds per wrk scenario (10; quick: 3).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--write-connections", type=int, default=64, help="Connections for create and transition.")
    parser.add_argument("--auth", choices=["key", "token"], default="key", help="API key (pipelines) or access token.")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="Only the web pages; their section of the output is replaced, the rest is left alone.",
    )
    parser.add_argument(
        "--page-connections", type=int, default=1, help="Connections for the page scenarios (1: one person's view)."
    )
    parser.add_argument("--no-intake", action="store_true", help="Skip the intake scenario (bench/intake.py).")
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    if args.only:
        plan = [series for series in plan if series.database == args.only]
    duration = args.duration or (3 if args.quick else 10)
    options = Options(
        threads=args.threads,
        connections=args.connections,
        write_connections=args.write_connections,
        duration=duration,
        warmup=1 if args.quick else 2,
        export_rows=100_000,
        bulk_rounds=4,
        idle_seconds=10 if args.quick else 60,
        auth=args.auth,
        profile_seconds=3 if args.quick else 8,
        postgres=args.postgres,
        page_connections=args.page_connections,
        pages_only=args.pages_only,
    )
    biggest_pg = max((s for s in plan if s.database == "postgresql"), key=lambda s: s.samples, default=None)
    biggest = biggest_pg or max(plan, key=lambda s: s.samples)
    profile_at = None if args.no_profile else (biggest.database, biggest.samples)

    wrk = ensure_wrk()
    started = time.perf_counter()
    runs: list[Run] = []
    extras: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="seqtrack-bench-scripts-") as scratch:
        bench = Bench(options, wrk, Path(scratch))
        for series in plan:
            series_runs, series_extras = bench.series(series, profile_at)
            runs += series_runs
            extras.update({f"{series.database}_{series.samples}_{key}": value for key, value in series_extras.items()})
            if "idle_cpu_seconds" in series_extras:
                extras["idle_cpu_seconds"] = series_extras["idle_cpu_seconds"]
                extras["idle_seconds"] = series_extras["idle_seconds"]
    version_runs = version_wall_seconds()
    extras["version_seconds"] = statistics.median(version_runs)
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False).stdout
    context = report.Context(
        stamp=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip(),
        quick=args.quick,
        threads=options.threads,
        connections=options.connections,
        write_connections=options.write_connections,
        duration=options.duration,
        auth=options.auth,
        wrk=(wrk_version.splitlines() or ["wrk"])[0].split(" [", 1)[0],
        python=sys.version.split()[0],
        cpus=os.cpu_count() or 0,
        total_minutes=(time.perf_counter() - started) / 60,
    )
    if args.pages_only:
        report.write_pages(args.output, context, runs)
        log(f"wrote the pages section of {args.output} in {context.total_minutes:.1f} min")
        return
    report.write(args.output, context, runs, extras)
    (args.output.with_suffix(".json")).write_text(
        json.dumps({"context": asdict(context), "runs": [asdict(run) for run in runs], "extras": extras}, indent=1)
        + "\n"
    )
    if not args.no_intake:
        # A file read, validated and committed: 100 k and 1 M rows (10 k on a quick run), each database in the plan.
        sizes = [10_000] if args.quick else list(intake.SIZES)
        databases = sorted({series.database for series in plan}, reverse=True)
        log(f"intake: {', '.join(f'{size:,}' for size in sizes)} rows on {', '.join(databases)}")
        intake.run_all(sizes, databases, args.postgres, args.output)
    log(f"wrote {args.output} in {context.total_minutes:.1f} min")


if __name__ == "__main__":
    main()
