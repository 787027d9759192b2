"""What an idle installation costs, and how long the command line takes to answer.

Starts a real ``seqtrack serve`` on a fresh SQLite data directory (the embedded
worker and relay inside, as ``make run`` does), lets it settle, and reads the
process's CPU time from /proc before and after a quiet window. With
``--postgres`` and ``--redis`` it measures ``seqtrack worker`` on those too.
Then it times ``seqtrack --version`` and ``seqtrack admin create --help`` as
whole processes (median of five). Prints markdown lines; ``--append FILE``
adds them to a file as well (e.g. docs/benchmarks.md).

    .venv/bin/python -m bench.idle [--seconds 60] [--postgres URL --redis URL] [--append FILE]

Targets: under 0.6 s of CPU per 60 idle seconds; ``--version`` under 0.5 s and
any command under 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.server import cpu_seconds, process_tree, start

SEQTRACK = Path(sys.executable).with_name("seqtrack")


def idle_cpu(command: str, env: dict[str, str], seconds: float, settle: float) -> float:
    """CPU seconds a ``seqtrack serve`` or ``seqtrack worker`` spends over ``seconds`` of doing nothing."""
    subprocess.run([str(SEQTRACK), "db", "upgrade"], env=env, check=True, capture_output=True)
    with tempfile.NamedTemporaryFile(prefix="seqtrack-idle-", suffix=".log") as log:
        if command == "serve":
            server = start(SEQTRACK, env, 1, Path(log.name))
            pid, stop = server.pid, server.stop
        else:
            process = subprocess.Popen([str(SEQTRACK), command], env=env, stdout=log, stderr=subprocess.STDOUT)

            def stop() -> None:
                process.terminate()
                process.wait(20)

            pid = process.pid
        try:
            time.sleep(settle)
            before = cpu_seconds(process_tree(pid))
            time.sleep(seconds)
            return cpu_seconds(process_tree(pid)) - before
        finally:
            stop()


def wall_time(args: list[str], env: dict[str, str], runs: int = 5) -> float:
    """Median wall time of ``seqtrack ARGS`` as a whole process, start-up included."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(SEQTRACK), *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="Length of the quiet window.")
    parser.add_argument("--settle", type=float, default=10.0, help="Seconds to let start-up work finish first.")
    parser.add_argument("--postgres", help="Also measure `seqtrack worker` on this PostgreSQL database.")
    parser.add_argument("--redis", help="The Redis URL for the worker measurement.")
    parser.add_argument("--append", type=Path, help="Append the result lines to this file.")
    options = parser.parse_args()

    base = {key: value for key, value in os.environ.items() if not key.startswith("SEQTRACK_")}
    lines = [f"Idle cost and command-line start-up ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", ""]
    with tempfile.TemporaryDirectory(prefix="seqtrack-idle-") as data_dir:
        env = {**base, "SEQTRACK_DATA_DIR": data_dir}
        spent = idle_cpu("serve", env, options.seconds, options.settle)
        lines.append(
            f"- idle `seqtrack serve` (SQLite, embedded worker and relay): {spent:.2f} s CPU "
            f"over {options.seconds:g} s (target < {0.01 * options.seconds:.2f} s)"
        )
        lines.append(f"- `seqtrack --version`: {wall_time(['--version'], env):.2f} s (target < 0.5 s)")
        lines.append(
            f"- `seqtrack admin create --help`: {wall_time(['admin', 'create', '--help'], env):.2f} s (target < 1.5 s)"
        )
    if options.postgres:
        if not options.redis:
            parser.error("--postgres needs --redis: the scaled-out worker queues on Redis")
        with tempfile.TemporaryDirectory(prefix="seqtrack-idle-") as data_dir:
            env = {
                **base,
                "SEQTRACK_DATA_DIR": data_dir,
                "SEQTRACK_DATABASE_URL": options.postgres,
                "SEQTRACK_REDIS_URL": options.redis,
                "SEQTRACK_QUEUE_NAME": f"idle-bench-{os.getpid()}",
            }
            spent = idle_cpu("worker", env, options.seconds, options.settle)
        lines.append(f"- idle `seqtrack worker` (PostgreSQL and Redis): {spent:.2f} s CPU over {options.seconds:g} s")
    text = "\n".join(lines) + "\n"
    print(text, end="")  # noqa: T201
    if options.append is not None:
        with options.append.open("a") as file:
            file.write("\n" + text)


if __name__ == "__main__":
    main()
