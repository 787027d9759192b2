"""Whether this process has been asked to stop: long-lived responses end themselves instead of being cut.

The server sets it from its signal handler; a live-feed stream looks at it each
time it wakes (at least twice a second) and closes with a final event, so the
server's graceful shutdown finds no open response to wait for or cancel.
"""

from __future__ import annotations

_requested = False


def request() -> None:
    global _requested
    _requested = True


def requested() -> bool:
    return _requested
