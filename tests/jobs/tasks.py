"""Tasks for the tests only; workers import them via SEQTRACK_EXTRA_TASK_MODULES=tests.jobs.tasks."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from seqtrack.jobs import registry


def _append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


@registry.task("tests.always_fails", max_attempts=3)
async def always_fails(ctx: registry.JobContext, *, note: str = "") -> None:
    raise RuntimeError(f"the sequencer is on fire {note}".strip())


@registry.task("tests.write_line")
async def write_line(ctx: registry.JobContext, *, path: str, line: str, tick: str | None = None) -> None:
    _append(Path(path), f"{line} {tick or '-'} {os.getpid()}\n")


@registry.task("tests.hang_first_time", max_attempts=5)
async def hang_first_time(ctx: registry.JobContext, *, path: str) -> None:
    """First run: note it started and hang (the test kills the worker); later runs: note completion."""
    marker = Path(path)
    if not marker.exists():
        marker.write_text(f"started {os.getpid()}\n")
        await asyncio.sleep(3600)
    _append(marker, f"done {os.getpid()}\n")


@registry.task("tests.slow_write", max_attempts=3)
async def slow_write(ctx: registry.JobContext, *, path: str, seconds: float) -> None:
    """Note the start, take ``seconds``, note the end: shows whether a run was cut short."""
    _append(Path(path), "started\n")
    await asyncio.sleep(seconds)
    _append(Path(path), "finished\n")


if os.environ.get("SEQTRACK_TEST_TICK_LOG"):
    registry.schedule(
        "tests.every_second",
        "tests.write_line",
        every=timedelta(seconds=1),
        args={"path": os.environ["SEQTRACK_TEST_TICK_LOG"], "line": "tick"},
    )
