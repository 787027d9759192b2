"""Queries over submissions and their rows. No rules, no commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from seqtrack.identity.actor import Actor
from seqtrack.intake.models import Submission, SubmissionRow
from seqtrack.platform.pagination import SortKey, apply_keyset, encode_cursor, parse_datetime


async def delete_rows(session: AsyncSession, submission_id: uuid.UUID) -> None:
    await session.execute(delete(SubmissionRow).where(SubmissionRow.submission_id == submission_id))


async def counts(session: AsyncSession, submission_id: uuid.UUID) -> tuple[int, int, int]:
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(SubmissionRow.error_count), 0),
                func.coalesce(func.sum(SubmissionRow.unconfirmed), 0),
            ).where(SubmissionRow.submission_id == submission_id)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def duplicate_values(
    session: AsyncSession, submission_id: uuid.UUID, column: InstrumentedAttribute[Any]
) -> list[str]:
    query = (
        select(column)
        .where(SubmissionRow.submission_id == submission_id, column.is_not(None))
        .group_by(column)
        .having(func.count() > 1)
    )
    return [str(value) for value in (await session.scalars(query)).all()]


async def rows_with(
    session: AsyncSession, submission_id: uuid.UUID, column: InstrumentedAttribute[Any], value: str
) -> list[SubmissionRow]:
    query = (
        select(SubmissionRow)
        .where(SubmissionRow.submission_id == submission_id, column == value)
        .order_by(SubmissionRow.row_number)
    )
    return list((await session.scalars(query)).all())


async def row(session: AsyncSession, submission_id: uuid.UUID, row_number: int) -> SubmissionRow | None:
    found: SubmissionRow | None = await session.scalar(
        select(SubmissionRow).where(
            SubmissionRow.submission_id == submission_id, SubmissionRow.row_number == row_number
        )
    )
    return found


async def rows_with_errors(session: AsyncSession, submission_id: uuid.UUID) -> list[SubmissionRow]:
    query = (
        select(SubmissionRow)
        .where(SubmissionRow.submission_id == submission_id, SubmissionRow.error_count > 0)
        .order_by(SubmissionRow.row_number)
    )
    return list((await session.scalars(query)).all())


async def rows_page(
    session: AsyncSession, submission_id: uuid.UUID, *, after: int, limit: int, only_problems: bool
) -> list[SubmissionRow]:
    query = select(SubmissionRow).where(SubmissionRow.submission_id == submission_id, SubmissionRow.row_number > after)
    if only_problems:
        query = query.where(or_(SubmissionRow.error_count > 0, SubmissionRow.unconfirmed > 0))
    query = query.order_by(SubmissionRow.row_number).limit(limit)
    return list((await session.scalars(query)).all())


async def row_batches(session: AsyncSession, submission_id: uuid.UUID, batch: int) -> Any:
    """Every row in order, ``batch`` at a time, as plain (row_number, values) tuples."""
    after = 0
    while True:
        rows = (
            await session.execute(
                select(SubmissionRow.row_number, SubmissionRow.values)
                .where(SubmissionRow.submission_id == submission_id, SubmissionRow.row_number > after)
                .order_by(SubmissionRow.row_number)
                .limit(batch)
            )
        ).all()
        if not rows:
            return
        yield [(int(number), dict(values)) for number, values in rows]
        after = int(rows[-1][0])


async def page(
    session: AsyncSession, actor: Actor, *, state: str | None, cursor: str | None, limit: int
) -> tuple[list[Submission], str | None]:
    """Newest first, keyset by (created_at, id); a submitter sees their own and their labs' submissions."""
    query = select(Submission).where(Submission.tenant_id == actor.tenant_id)
    if actor.sees_only_own_labs:
        mine = Submission.submitter_id == actor.user_id if actor.user_id else Submission.id.is_(None)
        query = query.where(or_(mine, Submission.lab_id.in_(list(actor.lab_ids))))
    if state is not None:
        query = query.where(Submission.state == state)
    query = apply_keyset(
        query,
        SortKey(Submission.created_at, parse_datetime),
        Submission.id,
        descending=True,
        cursor=cursor,
        limit=limit,
    )
    rows = list((await session.scalars(query)).all())
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit and items else None
    return items, next_cursor
