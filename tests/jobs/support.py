"""Helpers for tests that need real servers: an in-process uvicorn, free ports, polling with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import uvicorn

from tests.fixtures.processes import free_port

T = TypeVar("T")


@contextlib.asynccontextmanager
async def serve_in_process(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a free loopback port for the duration of the block."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 15
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)


async def eventually(check: Callable[[], Awaitable[T | None]], *, within: float = 20.0, every: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {within} s (last value: {last!r})")


FAST = {
    "job_retry_base_seconds": 0.05,
    "job_retry_max_seconds": 0.2,
    "job_poll_interval_seconds": 0.05,
    "job_sweep_interval_seconds": 0.5,
    "relay_poll_interval_seconds": 0.05,
    "feed_poll_interval_seconds": 0.3,
    "extra_task_modules": ["tests.jobs.tasks"],
    "webhook_allow_private_networks": True,
}


async def read_sse(lines: AsyncIterator[str], count: int, *, within: float = 15.0) -> list[dict[str, Any]]:
    """Collect ``count`` Server-Sent Events (id, event, data) from a response's lines."""
    import json

    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with asyncio.timeout(within):
        async for line in lines:
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "id" in current:
                events.append(current)
                current = {}
                if len(events) >= count:
                    return events
    return events
