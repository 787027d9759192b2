"""Wake-ups for background loops, so an idle process sleeps instead of polling.

A loop that would poll the database (the outbox relay, the job consumer) waits
on a :class:`Doorbell` that code in this process rings after a commit that gave
it work, and otherwise sleeps for an :class:`IdleBackoff` delay that grows while
nothing happens. The backoff's cap bounds how late work written by another
process (which cannot ring this process's bell) is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

# Work committed by another process waits at most this long for an idle loop.
IDLE_POLL_CAP_SECONDS = 1.0


class Doorbell:
    """Wakes every loop of this process that waits on it; safe to ring from any thread or event loop."""

    def __init__(self) -> None:
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def ring(self) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, waiter in list(self._waiters):
            if loop is running:
                waiter.set()
            elif not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # that loop closed meanwhile
                    loop.call_soon_threadsafe(waiter.set)

    @contextlib.contextmanager
    def listening(self) -> Iterator[asyncio.Event]:
        """An event set by every ring while the block runs; the caller clears it before each round."""
        waiter = asyncio.Event()
        entry = (asyncio.get_running_loop(), waiter)
        self._waiters.add(entry)
        try:
            yield waiter
        finally:
            self._waiters.discard(entry)


class IdleBackoff:
    """Delays between idle rounds: ``first``, then doubling up to ``cap``; work or a ring starts over."""

    def __init__(self, first: float, cap: float = IDLE_POLL_CAP_SECONDS) -> None:
        self.first = first
        self.cap = max(cap, first)
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay


async def wait_rung(waiter: asyncio.Event, seconds: float) -> bool:
    """Wait until ``waiter`` is set or ``seconds`` pass; True when it was rung."""
    if waiter.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await waiter.wait()
        return True
    return False
