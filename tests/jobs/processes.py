"""Real ``seqtrack`` processes for the acceptance tests: spawn, wait until ready, stop or kill."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.jobs.support import free_port

REPO = Path(__file__).resolve().parents[2]


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)


def base_env(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SEQTRACK_")}
    env["PYTHONPATH"] = str(REPO)
    env.update({f"SEQTRACK_{key.upper()}": value for key, value in settings.items()})
    return env


class Fleet:
    """Every process a test started, stopped at the end whatever happened."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.processes: list[Process] = []

    def apis(self, names: list[str], env: dict[str, str]) -> list[str]:
        """Start API processes side by side and return their base URLs once all answer /health."""
        started = []
        for name in names:
            port = free_port()
            args = [sys.executable, "-m", "seqtrack", "serve", "--host", "127.0.0.1", "--port", str(port)]
            started.append((self._start(name, args, env), f"http://127.0.0.1:{port}"))
        deadline = time.monotonic() + 30
        for process, url in started:
            while True:
                if process.popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited:\n{process.log()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{process.name} did not become healthy:\n{process.log()}")
                time.sleep(0.1)
        return [url for _, url in started]

    def worker(self, name: str, env: dict[str, str]) -> Process:
        return self._start(name, [sys.executable, "-m", "seqtrack", "worker"], env)

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        process = Process(name, args, env, self.logs)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()

    def logs_text(self) -> str:
        return "\n".join(f"--- {process.name}\n{process.log()}" for process in self.processes)


@contextlib.contextmanager
def fleet(logs: Path) -> Iterator[Fleet]:
    logs.mkdir(parents=True, exist_ok=True)
    processes = Fleet(logs)
    try:
        yield processes
    finally:
        processes.stop_all()
