"""Whatever a change records, the stored entry still verifies after the database round trip.

A hash over content that the database normalises differently (floats, unicode,
nested values) would make honest entries look tampered with; this searches for one.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqtrack.audit import service as audit_service
from seqtrack.events.recorder import DomainEvent, record
from seqtrack.platform.database import Database
from seqtrack.platform.errors import InvalidInput
from tests.fixtures.actors import staff_actor

# NUL and lone surrogates are refused (see test_unstorable_text...); everything else must round-trip.
storable_characters = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
storable_text = st.text(alphabet=storable_characters, max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | storable_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=storable_characters, max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
field_changes = st.dictionaries(
    st.text(alphabet=storable_characters, min_size=1, max_size=20),
    st.tuples(json_values, json_values),
    max_size=5,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=field_changes, reason=st.none() | st.text(alphabet=storable_characters, max_size=200))
async def test_recorded_changes_verify_after_the_round_trip(
    database: Database, changes: dict[str, tuple[Any, Any]], reason: str | None
) -> None:
    tenant = uuid.uuid4()
    async with database.write_session() as session:
        await record(
            session,
            DomainEvent(
                type="sample.updated",
                aggregate_type="sample",
                aggregate_id=uuid.uuid4(),
                changes=changes,
                reason=reason,
            ),
            staff_actor(tenant),
        )
    async with database.snapshot_session() as session:
        verification = await audit_service.verify(session, tenant)
    assert verification.ok, verification.broken
    assert verification.entries == 1


@pytest.mark.parametrize("bad", ["tube\x00label", "half \ud800 pair"])
async def test_unstorable_text_is_refused_naming_the_field_and_records_nothing(database: Database, bad: str) -> None:
    tenant = uuid.uuid4()
    with pytest.raises(InvalidInput) as refused:
        async with database.write_session() as session:
            await record(
                session,
                DomainEvent(
                    type="sample.updated",
                    aggregate_type="sample",
                    aggregate_id=uuid.uuid4(),
                    changes={"notes": ("", bad)},
                ),
                staff_actor(tenant),
            )
    assert refused.value.extra["errors"][0]["field"] == "notes"
    async with database.snapshot_session() as session:
        assert (await audit_service.verify(session, tenant)).entries == 0
