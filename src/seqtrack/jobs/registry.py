"""Task handlers and schedules, declared beside the code they belong to.

A domain's ``tasks.py`` registers its handlers with :func:`task`; the worker
imports every ``seqtrack.<domain>.tasks`` module, plus any named in
``SEQTRACK_EXTRA_TASK_MODULES`` (the tests use it for their own tasks).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from seqtrack.platform.registry import import_domain_modules

if TYPE_CHECKING:
    from seqtrack.platform.database import Database
    from seqtrack.settings import Settings


@dataclass(frozen=True)
class JobContext:
    """What a running job may use: no request, no session; it opens its own units of work."""

    database: Database
    settings: Settings
    job_id: uuid.UUID
    attempt: int
    tenant_id: uuid.UUID | None


Handler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    handler: Handler
    max_attempts: int | None = None
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class Schedule:
    """Run ``task`` every ``every`` or on a five-field crontab, once per tick across all workers."""

    name: str
    task: str
    every: timedelta | None = None
    cron: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def next_tick_start(self, now: datetime) -> datetime:
        """When the next tick may begin: the next step, or for a crontab the next minute."""
        if self.every is not None:
            step = self.every.total_seconds()
            return datetime.fromtimestamp((now.timestamp() // step + 1) * step, tz=now.tzinfo)
        return now.replace(second=0, microsecond=0) + timedelta(minutes=1)

    def current_tick(self, now: datetime) -> datetime | None:
        if self.every is not None:
            step = self.every.total_seconds()
            return datetime.fromtimestamp((now.timestamp() // step) * step, tz=now.tzinfo)
        assert self.cron is not None
        minute = now.replace(second=0, microsecond=0)
        return minute if _cron_matches(self.cron, minute) else None


def _cron_matches(expression: str, moment: datetime) -> bool:
    from huey import crontab

    minute, hour, day, month, weekday = expression.split()
    matches = crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday)
    return bool(matches(moment.replace(tzinfo=None)))


_TASKS: dict[str, TaskSpec] = {}
_SCHEDULES: dict[str, Schedule] = {}


def task(
    name: str, *, max_attempts: int | None = None, timeout_seconds: float | None = None
) -> Callable[[Handler], Handler]:
    """Register an async handler ``(ctx, **args)`` under ``name``."""

    def register(handler: Handler) -> Handler:
        _TASKS[name] = TaskSpec(name, handler, max_attempts, timeout_seconds)
        return handler

    return register


def schedule(
    name: str,
    task_name: str,
    *,
    every: timedelta | None = None,
    cron: str | None = None,
    args: dict[str, Any] | None = None,
) -> None:
    if (every is None) == (cron is None):
        raise ValueError("a schedule needs exactly one of 'every' or 'cron'")
    if cron is not None and len(cron.split()) != 5:
        raise ValueError(f"crontab {cron!r} needs five fields: minute hour day month weekday")
    _SCHEDULES[name] = Schedule(name, task_name, every, cron, dict(args or {}))


# Bounds a schedule loop's sleep, so a wall clock set forward is noticed within this time.
LONGEST_SCHEDULE_SLEEP_SECONDS = 30.0


def seconds_to_next_tick(now: datetime) -> float:
    """How long a schedule loop may sleep and still claim every tick when it begins."""
    starts = [plan.next_tick_start(now) for plan in _SCHEDULES.values()]
    if not starts:
        return LONGEST_SCHEDULE_SLEEP_SECONDS
    # A few milliseconds late, so the clock reads the new tick on waking.
    wait = (min(starts) - now).total_seconds() + 0.01
    return min(max(wait, 0.01), LONGEST_SCHEDULE_SLEEP_SECONDS)


def get_task(name: str) -> TaskSpec | None:
    return _TASKS.get(name)


def schedules() -> list[Schedule]:
    return list(_SCHEDULES.values())


def load_task_modules(extra: list[str] | None = None) -> None:
    import_domain_modules("tasks")
    for name in extra or []:
        importlib.import_module(name)
