"""The facility's figures: samples by state, overdue, throughput, turnaround, QC failures.

Each report is one or two aggregate statements over the caller's visible samples
(the tenant, and for a submitter only their labs), so the database does the
counting whether it holds ten thousand samples or a million; Python only names
and orders the groups.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Float, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from seqtrack.identity.actor import Actor
from seqtrack.samples import service
from seqtrack.samples.lifecycle import OPEN, SampleStatus
from seqtrack.samples.models import QcMeasurement, Sample
from seqtrack.samples.report_schemas import (
    PRIORITY_ORDER,
    SAMPLE_TYPE_ORDER,
    OverdueByPriority,
    OverdueReport,
    QcFailureReport,
    QcKindRate,
    SamplesByState,
    StateCount,
    ThroughputDay,
    ThroughputReport,
    TurnaroundGroup,
    TurnaroundReport,
)
from seqtrack.samples.repository import scoped
from seqtrack.samples.rules import DEFAULT_TURNAROUND_HOURS
from seqtrack.samples.schemas import Judgement, Priority, QcKind

_sample = Sample.__table__.c
_qc = QcMeasurement.__table__.c


class hours_between(FunctionElement[float]):
    """Hours from the first timestamp to the second, in the database's own arithmetic."""

    type = Float()
    name = "hours_between"
    inherit_cache = True


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_postgresql(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


class utc_day(FunctionElement[date]):
    """The calendar day (UTC) of a timestamp; SQLite answers text, PostgreSQL a date."""

    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the UTC timestamps SeqTrack writes as text; date() reads their day.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _count_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def samples_by_state(session: AsyncSession, actor: Actor) -> SamplesByState:
    if actor.sees_only_own_labs:
        # Grouped by lab first, a submitter's figures come from the (tenant, lab, state) index
        # alone; grouped by state only, SQLite walks the state index and reads every row's lab.
        query = scoped(select(_sample.status, func.count()), actor).group_by(_sample.lab_id, _sample.status)
    else:
        query = scoped(select(_sample.status, func.count()), actor).group_by(_sample.status)
    counts: dict[str, int] = {}
    for status, count in await session.execute(query):
        counts[status] = counts.get(status, 0) + int(count)
    states = [StateCount(state=state, samples=counts.get(state.value, 0)) for state in SampleStatus]
    return SamplesByState(total=sum(counts.values()), states=states)


async def overdue(session: AsyncSession, actor: Actor, now: datetime | None = None) -> OverdueReport:
    now = now or datetime.now(UTC)
    late = _sample.due_at < now
    query = scoped(
        select(
            _sample.priority,
            func.count(),
            _count_where(late),
            func.min(case((late, _sample.due_at), else_=None)),
        ),
        actor,
    ).where(_sample.status.in_([state.value for state in OPEN]))
    rows = {
        priority: (int(open_), int(late_), oldest)
        for priority, open_, late_, oldest in await session.execute(query.group_by(_sample.priority))
    }
    targets = (await service.read_settings(session, actor.tenant_id)).turnaround_hours
    priorities = []
    for priority in Priority:
        open_count, late_count, oldest = rows.get(priority.value, (0, 0, None))
        if isinstance(oldest, str):
            # SQLite hands back MIN() of a timestamp column as the stored text.
            oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
        priorities.append(
            OverdueByPriority(
                priority=priority,
                target_hours=float(targets.get(priority.value, DEFAULT_TURNAROUND_HOURS[priority])),
                open=open_count,
                overdue=late_count,
                oldest_due_at=oldest.astimezone(UTC) if oldest is not None else None,
            )
        )
    return OverdueReport(
        as_of=now,
        open=sum(item.open for item in priorities),
        overdue=sum(item.overdue for item in priorities),
        priorities=priorities,
    )


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


async def throughput(session: AsyncSession, actor: Actor, week_of: date | None = None) -> ThroughputReport:
    monday = week_start(week_of or datetime.now(UTC).date())
    start, end = _start_of_day(monday), _start_of_day(monday + timedelta(days=7))

    def per_day(kind: str, column: Any) -> Any:
        return (
            scoped(select(literal(kind).label("kind"), utc_day(column).label("day"), func.count().label("n")), actor)
            .where(column >= start, column < end)
            .group_by(utc_day(column))
        )

    rows = await session.execute(
        union_all(per_day("received", _sample.received_at), per_day("delivered", _sample.delivered_at))
    )
    counts: dict[tuple[str, date], int] = {(kind, _as_date(day)): int(n) for kind, day, n in rows}
    days = [
        ThroughputDay(
            date=day,
            received=counts.get(("received", day), 0),
            delivered=counts.get(("delivered", day), 0),
        )
        for day in (monday + timedelta(days=offset) for offset in range(7))
    ]
    return ThroughputReport(
        week_start=monday,
        received=sum(day.received for day in days),
        delivered=sum(day.delivered for day in days),
        days=days,
    )


async def turnaround(
    session: AsyncSession, actor: Actor, days: int = 90, now: datetime | None = None
) -> TurnaroundReport:
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    hours = hours_between(func.coalesce(_sample.received_at, _sample.created_at), _sample.delivered_at)
    on_time = case((_sample.delivered_at <= _sample.due_at, 1), else_=0)

    def delivered_by(dimension: str, column: Any) -> Any:
        return scoped(
            select(
                literal(dimension).label("dimension"),
                column.label("grp"),
                hours.label("hours"),
                on_time.label("on_time"),
            ),
            actor,
        ).where(_sample.delivered_at.is_not(None), _sample.delivered_at >= since)

    delivered = union_all(delivered_by("priority", _sample.priority), delivered_by("sample_type", _sample.sample_type))
    delivered_cte = delivered.cte("delivered")
    partition = (delivered_cte.c.dimension, delivered_cte.c.grp)
    ranked = select(
        delivered_cte.c.dimension,
        delivered_cte.c.grp,
        delivered_cte.c.hours,
        func.row_number().over(partition_by=partition, order_by=delivered_cte.c.hours).label("position"),
        func.count().over(partition_by=partition).label("n"),
        func.sum(delivered_cte.c.on_time).over(partition_by=partition).label("on_time"),
    ).cte("ranked")
    # The median is the middle row, or the mean of the two middle rows: positions
    # (n+1)/2 and (n+2)/2 in integer division name both cases.
    middle = ranked.c.position.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    query = (
        select(
            ranked.c.dimension,
            ranked.c.grp,
            func.max(ranked.c.n),
            func.avg(ranked.c.hours),
            func.max(ranked.c.on_time),
        )
        .where(middle)
        .group_by(ranked.c.dimension, ranked.c.grp)
    )
    groups: dict[str, list[TurnaroundGroup]] = {"priority": [], "sample_type": []}
    for dimension, group, samples, median, delivered_on_time in await session.execute(query):
        groups[dimension].append(
            TurnaroundGroup(
                group=group, samples=int(samples), median_hours=round(float(median), 2), on_time=int(delivered_on_time)
            )
        )
    groups["priority"].sort(key=lambda item: PRIORITY_ORDER.get(item.group, len(PRIORITY_ORDER)))
    groups["sample_type"].sort(key=lambda item: SAMPLE_TYPE_ORDER.get(item.group, len(SAMPLE_TYPE_ORDER)))
    return TurnaroundReport(
        days=days, since=since, by_priority=groups["priority"], by_sample_type=groups["sample_type"]
    )


async def qc_failure_rate(
    session: AsyncSession, actor: Actor, days: int = 30, now: datetime | None = None
) -> QcFailureReport:
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    measured = select(_qc.sample_id, _qc.kind, _qc.judgement).where(
        _qc.tenant_id == actor.tenant_id, _qc.measured_at >= since
    )
    if actor.sees_only_own_labs:
        # A submitter's figures count only their labs' samples, as every samples read does.
        measured = measured.join(Sample.__table__, _sample.id == _qc.sample_id).where(
            _sample.lab_id.in_(list(actor.lab_ids))
        )
    window = measured.subquery("measured")
    by_kind = await session.execute(
        select(
            window.c.kind,
            func.count(),
            _count_where(window.c.judgement == Judgement.PASS.value),
            _count_where(window.c.judgement == Judgement.WARN.value),
            _count_where(window.c.judgement == Judgement.FAIL.value),
        ).group_by(window.c.kind)
    )
    counted = {kind: (int(n), int(passed), int(warned), int(failed_)) for kind, n, passed, warned, failed_ in by_kind}
    samples = (
        await session.execute(
            select(
                func.count(func.distinct(window.c.sample_id)),
                func.count(func.distinct(case((window.c.judgement == Judgement.FAIL.value, window.c.sample_id)))),
            )
        )
    ).one()
    kinds = [
        QcKindRate(
            kind=kind,
            measurements=n,
            passed=passed,
            warned=warned,
            failed=failed_count,
            failure_rate=round(failed_count / n, 4) if n else 0.0,
        )
        for kind in QcKind
        for n, passed, warned, failed_count in [counted.get(kind.value, (0, 0, 0, 0))]
    ]
    samples_measured, samples_failed = int(samples[0]), int(samples[1])
    return QcFailureReport(
        days=days,
        since=since,
        samples_measured=samples_measured,
        samples_failed=samples_failed,
        failure_rate=round(samples_failed / samples_measured, 4) if samples_measured else 0.0,
        kinds=kinds,
    )


__all__ = [
    "overdue",
    "qc_failure_rate",
    "samples_by_state",
    "throughput",
    "turnaround",
    "week_start",
]
