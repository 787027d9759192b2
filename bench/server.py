"""A real `seqtrack serve` process for the benchmark, and what /proc says it spent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn's workers, multiprocessing helpers)."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        if not Path(f"/proc/{current}").exists():
            continue
        tree.append(current)
        pending += _children(current)
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far."""
    ticks = 0
    for pid in pids:
        try:
            # The command may contain spaces and parentheses: fields start after the last ')'.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def rss_mb(pids: list[int]) -> float:
    """The largest resident set among these processes now, in MB."""
    largest = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    largest = max(largest, int(line.split()[1]))
        except OSError:
            continue
    return largest / 1024


class RssWatch:
    """Samples the resident set every 100 ms while a scenario runs.

    VmHWM would be simpler, but it keeps the peak of log-in's argon2 hash (64 MiB per
    hash) for the life of the process, which is not what the list load costs.
    """

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_mb = rss_mb(pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_mb = max(self.peak_mb, rss_mb(self.pids))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb(self.pids))


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    workers: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        return process_tree(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids())

    @contextmanager
    def watch_rss(self) -> Iterator[RssWatch]:
        watch = RssWatch(self.pids())
        watch.start()
        try:
            yield watch
        finally:
            watch.stop()

    def settle(self, quiet_seconds: float = 1.0, limit: float = 8.0) -> None:
        """Wait until the server stops spending CPU: the relay and jobs left by a write scenario."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(quiet_seconds)
            if self.cpu_seconds() - before <= 0.05 * quiet_seconds:
                return

    def stop(self) -> None:
        pids = self.pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # A worker that outlived its supervisor would keep a core busy for the next series.
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in pids):
            if time.monotonic() > deadline:
                for pid in pids:
                    if _alive(pid):
                        os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.2)
        leftovers = [pid for pid in pids if _alive(pid)]
        if leftovers:
            raise RuntimeError(f"server processes still running after stop: {leftovers}")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(seqtrack: Path, env: dict[str, str], workers: int, log: Path) -> Server:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(seqtrack), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(process, port, workers, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"seqtrack serve exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200 and (
                workers == 1 or len(server.pids()) > workers
            ):
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"seqtrack serve did not answer /health within 60 s; see {log}")
