"""``Idempotency-Key`` on POST: a retried request gets the first answer, not a duplicate.

The key, a fingerprint of the request and the response are stored in the same
transaction as the creation, so a replay can never see a key whose creation
rolled back. A route takes a :data:`Once` and hands its work to ``once.respond``;
lower-level code can use :func:`claim` then :func:`complete`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.deps import WriteSession
from seqtrack.platform.errors import Conflict, InvalidInput, RuleViolation
from seqtrack.platform.models import MAX_IDEMPOTENCY_KEY_LENGTH as MAX_KEY_LENGTH
from seqtrack.platform.models import IdempotencyKey
from seqtrack.platform.responses import JsonBytes, plain_json
from seqtrack.platform.tenancy import Caller

REPLAY_HEADER = "Idempotent-Replayed"
IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", description="Repeat a POST safely: the first answer comes back.")
]


class IdempotencyKeyReused(RuleViolation, code="idempotency.key_reused", title="Idempotency key reused"): ...


class IdempotencyKeyInFlight(Conflict, code="idempotency.in_flight", title="Request already in progress"): ...


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any
    headers: dict[str, str]


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), b"\n", path.encode(), b"\n", body):
        digest.update(part)
    return digest.hexdigest()


def _principal(actor: Caller) -> str:
    return str(actor.principal_id) if actor.principal_id is not None else f"{actor.kind}:{actor.display}"[:64]


async def claim(
    session: AsyncSession, actor: Caller, key: str, request_fingerprint: str
) -> StoredResponse | IdempotencyKey:
    """The first response for this key, or a fresh claim to :func:`complete` after the work.

    Raises 422 when the key was used with a different request, 409 when another
    request holding the key has not committed yet.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            errors=[{"field": "Idempotency-Key", "location": "header", "message": "bad length"}],
        )
    principal = _principal(actor)
    existing = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.tenant_id == actor.tenant_id,
            IdempotencyKey.principal == principal,
            IdempotencyKey.key == key,
        )
    )
    if existing is not None:
        return _replay(existing, request_fingerprint)
    row = IdempotencyKey(tenant_id=actor.tenant_id, principal=principal, key=key, fingerprint=request_fingerprint)
    session.add(row)
    try:
        # Insert now: a concurrent request with the same key waits on the unique
        # index here and fails, instead of doing the work a second time.
        await session.flush()
    except IntegrityError as exc:
        raise IdempotencyKeyInFlight(
            "A request with this Idempotency-Key is being processed; retry shortly.", key=key
        ) from exc
    return row


def _replay(existing: IdempotencyKey, request_fingerprint: str) -> StoredResponse:
    if existing.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request; use a new key.",
            key=existing.key,
        )
    if existing.status_code is None:
        raise IdempotencyKeyInFlight("A request with this Idempotency-Key is being processed; retry shortly.")
    return StoredResponse(existing.status_code, existing.body, dict(existing.headers or {}))


async def complete(session: AsyncSession, claimed: IdempotencyKey, response: StoredResponse) -> None:
    claimed.status_code = response.status_code
    claimed.body = response.body
    claimed.headers = response.headers
    await session.flush()


Produce = Callable[[], Awaitable[StoredResponse]]


async def respond_once(
    session: AsyncSession, actor: Caller, request: Request, key: str | None, produce: Produce
) -> Response:
    """Run ``produce`` once per Idempotency-Key; a retry gets the stored answer back.

    Without a key the work simply runs. The stored answer is written in the
    caller's unit of work, so it exists exactly when the work committed.
    """
    if key is None:
        answer = await produce()
        return JsonBytes(answer.body, status_code=answer.status_code, headers=answer.headers)
    claimed = await claim(session, actor, key, fingerprint(request.method, request.url.path, await request.body()))
    if isinstance(claimed, StoredResponse):
        return JsonBytes(
            claimed.body, status_code=claimed.status_code, headers={**claimed.headers, REPLAY_HEADER: "true"}
        )
    answer = await produce()
    await complete(session, claimed, answer)
    return JsonBytes(answer.body, status_code=answer.status_code, headers=answer.headers)


@dataclass(frozen=True)
class RepeatablePost:
    """A POST its client may send again with the same Idempotency-Key: the first answer comes back."""

    request: Request
    session: AsyncSession
    key: str | None

    def location(self, resource_id: object) -> str:
        """Where the resource this POST creates is read."""
        return f"{self.request.url.path}/{resource_id}"

    async def respond(self, actor: Caller, produce: Produce) -> Response:
        return await respond_once(self.session, actor, self.request, self.key, produce)

    async def answer(self, actor: Caller, status_code: int, work: Callable[[], Awaitable[Any]]) -> Response:
        """Run ``work`` once per key; what it returns is the JSON answer, with no headers of its own."""

        async def produce() -> StoredResponse:
            return StoredResponse(status_code, plain_json(await work()), {})

        return await self.respond(actor, produce)


async def _repeatable(
    request: Request, session: WriteSession, idempotency_key: IdempotencyKeyHeader = None
) -> RepeatablePost:
    return RepeatablePost(request, session, idempotency_key)


# Function-scoped as WriteSession is: the stored answer commits with the work.
Once = Annotated[RepeatablePost, Depends(_repeatable, scope="function")]
