"""A py-spy sample of the server while wrk drives one scenario, summarised by function."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.server import Server

TOP = 20
# Up to the import root: installed packages, the project's src/, the standard library.
PREFIX = re.compile(r"^.*?(site-packages/|/src/|/lib/python3\.\d+/)")


def _frame_name(frame: str) -> str:
    # py-spy's raw frames read "function (path/to/module.py:123)"; the line number is noise here.
    function, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    where = PREFIX.sub("", where)
    return f"{function} ({where})" if where else function


def _package(name: str) -> str:
    where = name.rpartition(" (")[2].rstrip(")")
    return where.split("/", 1)[0] if "/" in where else where.removesuffix(".py")


def summarise(raw: str) -> list[dict[str, object]]:
    """Top functions by samples on CPU: self (innermost frame) and total (anywhere in the stack)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(frame) for frame in stack.split(";") if "(" in frame]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        packages[_package(frames[-1])] += count
        for name in set(frames):
            total[name] += count
    if not samples:
        return []
    rows: list[dict[str, object]] = []
    for name, count in own.most_common(TOP):
        rows.append({"kind": "self", "function": name, "share": count / samples})
    for name, count in packages.most_common(10):
        rows.append({"kind": "package", "function": name, "share": count / samples})
    # The CLI frames hold every request of the process; they say nothing about the route.
    seqtrack = [(name, count) for name, count in total.most_common() if "seqtrack/" in name and "cli.py" not in name]
    for name, count in seqtrack[:TOP]:
        rows.append({"kind": "total", "function": name, "share": count / samples})
    return rows


def record(server: Server, seconds: int, drive: Callable[[], object]) -> tuple[list[dict[str, object]], str]:
    """Profile the server while drive() loads it; an empty result and a reason if py-spy cannot."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return [], "py-spy is not installed (`make install` adds it with the dev extras)"
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "profile.txt"
        command = [
            py_spy, "record", "--pid", str(server.pid), "--duration", str(seconds), "--rate", "100",
            "--nonblocking", "--subprocesses", "--format", "raw", "--output", str(output),
        ]  # fmt: skip
        recorder = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        drive()
        try:
            printed, _ = recorder.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            printed, _ = recorder.communicate()
        if recorder.returncode != 0 or not output.exists():
            reason = printed.strip().splitlines()[-1] if printed.strip() else f"exit {recorder.returncode}"
            return [], f"py-spy could not sample the server ({reason}); ptrace may be refused here"
        rows = summarise(output.read_text())
    note = f"py-spy {seconds} s at 100 Hz, non-blocking, during a separate run of the same wrk scenario"
    return rows, note
