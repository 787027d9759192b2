"""docs/benchmarks.md from one `make bench` run: tables per series, the targets, the profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.run import Run, Scenario

PAGES_START = "<!-- pages:start (written by `python -m bench.run --pages-only`) -->"
PAGES_END = "<!-- pages:end -->"
PAGE_TARGET_MS = 100.0
MARKER = "<!-- Everything below is written by `make bench` (bench/run.py); edit above this line only. -->"
HEAD = """# Benchmarks

`make bench` measures a real `seqtrack serve` over loopback with wrk, authentication included
(no dependency overrides), and rewrites everything below the marker. See bench/run.py.
"""
AUTH = {"key": "an API key (what a pipeline sends)", "token": "a fresh access token per scenario"}
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class Context:
    stamp: str
    commit: str
    quick: bool
    threads: int
    connections: int
    write_connections: int
    duration: int
    auth: str
    wrk: str
    python: str
    cpus: int
    total_minutes: float


def _title(run: Run) -> str:
    workers = "1 worker" if run.workers == 1 else f"{run.workers} workers"
    return f"{NAMES[run.database]}, {run.samples:,} samples, {workers}"


def _mean_floor(run: Run) -> float:
    return (run.floor("first") + run.floor("last")) / 2


def _find(run: Run, name: str) -> Scenario | None:
    return next((s for s in run.scenarios if s.name == name), None)


def _at_least(measured: float, target: float, unit: str = "") -> str:
    if measured >= target:
        return "met"
    short = f"{target / measured:.1f}× short" if measured > 0 else "nothing measured"
    return f"**missed** by {target - measured:.2f}{unit} ({short})"


def _at_most(measured: float, target: float, unit: str = "") -> str:
    if measured <= target:
        return "met"
    return f"**missed** by {measured - target:.2f}{unit} ({measured / target:.1f}× the target)"


def targets(runs: list[Run], extras: dict[str, float]) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []
    single = [run for run in runs if run.workers == 1]
    postgres = sorted((run for run in single if run.database == "postgresql"), key=lambda run: run.samples)
    if postgres:
        big = postgres[-1]
        where = _title(big)
        listing = _find(big, "list 50")
        if listing:
            ratio = listing.rate / _mean_floor(big)
            rows.append(("list 50 ÷ /health", where, f"{ratio:.3f}", "≥ 0.4", _at_least(ratio, 0.4)))
            cpu = listing.cpu_ms_per_request
            verdict = _at_most(cpu, 2.5, " ms")
            rows.append(("list 50 server CPU per request", where, f"{cpu:.2f} ms", "≤ 2.5 ms", verdict))
            rows.append(
                ("list 50 p99", where, f"{listing.p99_ms:.1f} ms", "< 50 ms", _at_most(listing.p99_ms, 50, " ms"))
            )
            small = _find(postgres[0], "list 50") if len(postgres) > 1 else None
            if small:
                growth = listing.p50_ms / small.p50_ms
                rows.append(
                    (
                        f"list 50 p50 at {big.samples:,} ÷ at {postgres[0].samples:,}",
                        "PostgreSQL, 1 worker",
                        f"{growth:.2f}",
                        "≤ 1.2",
                        _at_most(growth, 1.2),
                    )
                )
    for run in single:
        where = _title(run)
        floor = _mean_floor(run)
        if found := _find(run, "get one"):
            ratio = found.rate / floor
            rows.append(("get one ÷ /health", where, f"{ratio:.3f}", "≥ 0.6", _at_least(ratio, 0.6)))
        need = 0.3 if run.database == "postgresql" else 0.2
        for name in ("create", "transition"):
            if found := _find(run, name):
                ratio = found.rate / floor
                rows.append((f"{name} ÷ /health", where, f"{ratio:.3f}", f"≥ {need}", _at_least(ratio, need)))
        if found := _find(run, "box grid 10×10"):
            cpu = found.cpu_ms_per_request
            rows.append(
                ("box grid 10×10, 60 tubes: server time", where, f"{cpu:.2f} ms", "< 100 ms", _at_most(cpu, 100, " ms"))
            )
        if found := _find(run, "list 50"):
            rss = found.peak_rss_mb
            rows.append(("peak RSS under list load", where, f"{rss:.0f} MB", "< 250 MB", _at_most(rss, 250, " MB")))
    for run in runs:
        for page in _pages(run):
            server = page.server_p95_ms or 0.0
            rows.append(
                (
                    f"{page.name.removeprefix('page: ')} page server p95",
                    _title(run),
                    f"{server:.1f} ms",
                    f"< {PAGE_TARGET_MS:.0f} ms",
                    _at_most(server, PAGE_TARGET_MS, " ms"),
                )
            )
    for run in runs:
        failing = [s.name for s in run.scenarios if s.non_2xx or s.socket_errors]
        verdict = "met" if not failing else "**missed** in " + ", ".join(failing)
        total = sum(s.non_2xx + s.socket_errors for s in run.scenarios)
        rows.append(("non-2xx and socket errors", _title(run), str(total), "0 in every scenario", verdict))
    if "idle_cpu_seconds" in extras:
        idle, seconds = extras["idle_cpu_seconds"], extras["idle_seconds"]
        scaled = idle * 60 / seconds
        measured = f"{idle:.2f} s in {seconds:.0f} s" + ("" if seconds == 60 else f" (≈ {scaled:.2f} s per 60 s)")
        rows.append(("idle server CPU", "SQLite, 1 worker", measured, "< 0.6 s per 60 s", _at_most(scaled, 0.6, " s")))
    if "version_seconds" in extras:
        wall = extras["version_seconds"]
        verdict = _at_most(wall, 0.5, " s")
        rows.append(("`seqtrack --version` wall time", "median of 5", f"{wall:.2f} s", "< 0.5 s", verdict))
    return rows


def _pages(run: Run) -> list[Scenario]:
    return [s for s in run.scenarios if s.name.startswith("page: ")]


def _pages_table(run: Run) -> list[str]:
    pages = _pages(run)
    if not pages:
        return []
    lines = [
        f"#### Pages: {_title(run)}",
        "",
        "| page | server p50 ms | server p95 ms | target | wrk p50 ms | wrk p95 ms | wrk p99 ms | req/s "
        "| server CPU ms/req | non-2xx | conns | logged |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in pages:
        server = s.server_p95_ms or 0.0
        verdict = "met" if server < PAGE_TARGET_MS else "**missed**"
        lines.append(
            f"| {s.name.removeprefix('page: ')} | {s.server_p50_ms or 0:,.1f} | {server:,.1f} | < 100 ms: {verdict} "
            f"| {s.p50_ms:,.1f} | {s.p95_ms:,.1f} | {s.p99_ms:,.1f} | {s.rate:,.1f} | {s.cpu_ms_per_request:,.2f} "
            f"| {s.non_2xx} | {s.connections} | {s.server_requests:,} |"
        )
    notes = sorted({s.note for s in pages})
    return [*lines, "", *(f"Measured with {note}." for note in notes), ""]


def _run_table(run: Run) -> list[str]:
    first, last = run.floor("first"), run.floor("last")
    lines = [
        f"### {_title(run)}",
        "",
        f"`/health` floor: {first:,.0f} req/s first, {last:,.0f} req/s last.",
        "",
        "| scenario | req/s | ÷ first floor | ÷ last floor | p50 ms | p99 ms | non-2xx | errors | server CPU ms/req "
        "| peak RSS MB | conns | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in run.scenarios:
        if s.name.startswith("page: "):
            continue
        # Bulk and export are a few big requests in a row: their rate is not comparable with the floor.
        rates = f"{s.rate:,.1f} | {s.rate / first:.3f} | {s.rate / last:.3f}" if not s.note else "— | — | —"
        lines.append(
            f"| {s.name} | {rates} | {s.p50_ms:,.1f} | {s.p99_ms:,.1f} | {s.non_2xx} | {s.socket_errors} "
            f"| {s.cpu_ms_per_request:,.2f} | {s.peak_rss_mb:,.0f} | {s.connections} | {s.note} |"
        )
    return [*lines, "", *_pages_table(run)]


def _profile(run: Run) -> list[str]:
    if not run.profile and not run.profile_note:
        return []
    lines = [f"### Profile: list 50, {_title(run)}", "", run.profile_note + ".", ""]
    if not run.profile:
        return lines
    for kind, heading in (
        ("package", "By package of the innermost frame"),
        ("self", "Where the samples land (innermost frame)"),
        ("total", "SeqTrack functions on the stack (inclusive)"),
    ):
        what = "package" if kind == "package" else "function"
        lines += [f"{heading}:", "", f"| share of samples | {what} |", "|---:|---|"]
        lines += [f"| {row['share']:.1%} | `{row['function']}` |" for row in run.profile if row["kind"] == kind]
        lines.append("")
    return lines


def render(context: Context, runs: list[Run], extras: dict[str, float]) -> str:
    kind = "quick run (`python -m bench.run --quick`)" if context.quick else "full run (`make bench`)"
    lines = [
        f"## {context.stamp}, commit {context.commit}: {kind}",
        "",
        f"wrk `-t{context.threads} -c{context.connections} -d{context.duration}s` over loopback "
        f"(create and transition: `-c{context.write_connections}`), on the same {context.cpus}-core machine "
        "as the server: the load generator takes CPU from the server, so req/s are a lower bound and only the "
        "ratios to `/health`, measured in the same run, compare across machines.",
        f"Authentication: {AUTH[context.auth]} "
        f"as `Authorization: Bearer`. Python {context.python}, {context.wrk}. The whole run took "
        f"{context.total_minutes:.0f} min.",
        "",
        "Server CPU is user + system time of the `seqtrack serve` process tree from /proc over the wrk run, "
        "divided by the requests wrk completed; it includes the embedded worker and the outbox relay. "
        "Peak RSS is the largest resident set of one server process, sampled every 100 ms during the "
        "scenario. Bulk transitions: "
        "1,000 samples per request, submitted → received → on hold → received → QC, one after another. "
        "Export: the CSV streamed and counted, stopped after 100,000 rows.",
        "",
        "## Targets",
        "",
        "Ratios use the mean of the first and last `/health` floor of the same series.",
        "",
        "| target | where | measured | target | verdict |",
        "|---|---|---:|---|---|",
        *(f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in targets(runs, extras)),
        "",
        "## Results",
        "",
    ]
    for run in runs:
        lines += _run_table(run)
    seeds = [
        f"{NAMES[key.split('_')[0]]} {int(key.split('_')[1]):,}: {value:.0f} s"
        for key, value in extras.items()
        if key.endswith("_seed_seconds")
    ]
    if seeds:
        lines += ["Seeding (`python -m bench.seed`, labs and API key made over HTTP): " + "; ".join(seeds) + ".", ""]
    for run in runs:
        lines += _profile(run)
    return "\n".join(lines).rstrip() + "\n"


PAGES_ABOUT = (
    "Each page is read as a browser reads it: `Accept: text/html` and the Cookie of a real web session "
    "(`POST /api/v1/auth/session`), as the facility administrator, and for the submitter rows as a submitter "
    "of 3 of the 12 labs. **Server time** is the `duration_ms` the server logs for every request "
    "(platform/middleware.py: from the request reaching the application to the last byte of the answer), "
    "read back from the server's log for the measured run; the issue's target is on it. wrk's latency "
    "over loopback (client, socket and queueing included) is beside it as an upper bound. The sample "
    "detail page picks a sample at random from about 4,000 across every state; the admin's pages include "
    "the audit trail."
)


def render_pages(context: Context, runs: list[Run]) -> str:
    kind = "quick" if context.quick else "full"
    connections = next((s.connections for run in runs for s in _pages(run)), 0)
    lines = [
        f"## Pages: {context.stamp}, commit {context.commit} ({kind} run, `--pages-only`)",
        "",
        f"wrk `-c{connections} -d{context.duration}s` per page, over loopback, "
        f"on the same {context.cpus}-core machine as the server. " + PAGES_ABOUT,
        "",
    ]
    for run in runs:
        lines += _pages_table(run)
    return "\n".join(lines).rstrip() + "\n"


def write_pages(path: Path, context: Context, runs: list[Run]) -> None:
    """Replace only the pages section (above the generated part), leaving every other figure as it was."""
    section = f"{PAGES_START}\n\n{render_pages(context, runs)}\n{PAGES_END}\n"
    existing = path.read_text() if path.exists() else HEAD
    if PAGES_START in existing and PAGES_END in existing:
        before, rest = existing.split(PAGES_START, 1)
        after = rest.split(PAGES_END, 1)[1].lstrip("\n")
        path.write_text(f"{before}{section}\n{after}")
    elif MARKER in existing:
        before, after = existing.split(MARKER, 1)
        path.write_text(f"{before.rstrip()}\n\n{section}\n{MARKER}{after}")
    else:
        path.write_text(f"{existing.rstrip()}\n\n{section}")


def write(path: Path, context: Context, runs: list[Run], extras: dict[str, float]) -> None:
    head = HEAD
    if path.exists():
        existing = path.read_text()
        if MARKER in existing:
            head = existing.split(MARKER, 1)[0].rstrip() + "\n"
    path.write_text(f"{head}\n{MARKER}\n\n{render(context, runs, extras)}")
