"""The reusable HTTP semantics: keyset cursors, ETag / If-Match, Idempotency-Key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from seqtrack.platform import idempotency
from seqtrack.platform.database import Database
from seqtrack.platform.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from seqtrack.platform.etag import check_if_match, make_etag
from seqtrack.platform.models import IdempotencyKey
from seqtrack.platform.pagination import decode_cursor, encode_cursor
from tests.fixtures.actors import staff_actor


def test_a_cursor_round_trips_its_sort_value_and_id() -> None:
    row_id = uuid.uuid4()
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, row_id)) == (moment.isoformat(), row_id)
    assert decode_cursor(encode_cursor(42, row_id)) == (42, row_id)


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90IGpzb24", encode_cursor(1, uuid.UUID(int=7))[:-3]])
def test_a_tampered_cursor_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(cursor)


def test_if_match_accepts_the_current_etag_and_refuses_a_stale_one() -> None:
    tube = uuid.uuid4()
    check_if_match(make_etag(tube, 3), tube, 3, required=True)
    check_if_match(f"W/{make_etag(tube, 3)}", tube, 3, required=True)
    check_if_match("*", tube, 3, required=True)
    with pytest.raises(PreconditionFailed) as stale:
        check_if_match(make_etag(tube, 2), tube, 3, required=True)
    assert stale.value.extra["current_etag"] == make_etag(tube, 3)
    with pytest.raises(PreconditionFailed):
        check_if_match(make_etag(uuid.uuid4(), 3), tube, 3, required=True)


def test_a_missing_if_match_is_428_only_where_required() -> None:
    tube = uuid.uuid4()
    check_if_match(None, tube, 1, required=False)
    with pytest.raises(PreconditionRequired):
        check_if_match(None, tube, 1, required=True)


async def test_an_idempotency_key_replays_only_for_the_same_caller_and_request(database: Database) -> None:
    robot = staff_actor()
    print_ = idempotency.fingerprint("POST", "/api/v1/things", b'{"a":1}')
    async with database.write_session() as session:
        claim = await idempotency.claim(session, robot, "k-1", print_)
        assert isinstance(claim, IdempotencyKey)
        await idempotency.complete(session, claim, idempotency.StoredResponse(201, {"id": 1}, {"ETag": '"x"'}))
    async with database.write_session() as session:
        replay = await idempotency.claim(session, robot, "k-1", print_)
    assert replay == idempotency.StoredResponse(201, {"id": 1}, {"ETag": '"x"'})

    with pytest.raises(idempotency.IdempotencyKeyReused):
        async with database.write_session() as session:
            other = idempotency.fingerprint("POST", "/api/v1/things", b'{"a":2}')
            await idempotency.claim(session, robot, "k-1", other)

    # The same key from another caller of the same tenant is a new request.
    colleague = staff_actor(robot.tenant_id)
    async with database.write_session() as session:
        fresh = await idempotency.claim(session, colleague, "k-1", print_)
    assert isinstance(fresh, IdempotencyKey)


async def test_an_idempotency_key_whose_work_rolled_back_is_free_again(database: Database) -> None:
    robot = staff_actor()
    print_ = idempotency.fingerprint("POST", "/x", b"{}")
    with pytest.raises(RuntimeError):
        async with database.write_session() as session:
            await idempotency.claim(session, robot, "k-2", print_)
            raise RuntimeError("creation failed")
    async with database.write_session() as session:
        assert isinstance(await idempotency.claim(session, robot, "k-2", print_), IdempotencyKey)
