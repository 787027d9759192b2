"""The circuit breaker's states, and e-mail notifications for the sample events a user chose."""

from __future__ import annotations

import email
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity.deps import current_actor
from seqtrack.integrations.breaker import Breaker, BreakerState
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_member, make_tenant
from tests.jobs.support import eventually


def test_the_breaker_opens_after_the_threshold_and_lets_one_try_through_after_the_cooldown() -> None:
    breaker = Breaker(threshold=3, cooldown_seconds=60)
    now = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    assert breaker.state(2, None, now) is BreakerState.CLOSED
    assert breaker.state(3, now, now) is BreakerState.OPEN
    assert breaker.seconds_until_retry(now, now + timedelta(seconds=45)) == 15
    assert breaker.state(3, now, now + timedelta(seconds=61)) is BreakerState.HALF_OPEN
    assert breaker.state(0, None, now) is BreakerState.CLOSED


async def test_a_user_gets_an_email_for_the_sample_events_they_chose_and_not_for_others(
    manager_app: FastAPI, manager_client: httpx.AsyncClient, fast_settings: Settings
) -> None:
    database = Database(fast_settings)
    try:
        tenant = await make_tenant(database)
        manager = await make_member(database, tenant, Role.MANAGER, email="manager@facility.example")
        manager_app.dependency_overrides[current_actor] = lambda: manager.actor
        chosen = await manager_client.put(
            "/api/v1/notifications/preferences",
            json={"email": "manager@facility.example", "event_types": ["sample.status_changed:received"]},
        )
        assert chosen.status_code == 200
        stored = (await manager_client.get("/api/v1/notifications/preferences")).json()
        assert stored["event_types"] == ["sample.status_changed:received"]
        lab = uuid.uuid4()
        async with database.write_session() as session:
            for human_id, target in (("ST-0001", "qc"), ("ST-0002", "received")):
                await record(
                    session,
                    DomainEvent(
                        type="sample.status_changed",
                        aggregate_type="sample",
                        aggregate_id=uuid.uuid4(),
                        data={"human_id": human_id, "lab_id": lab, "from": "submitted", "to": target},
                    ),
                    staff_actor(tenant),
                )
    finally:
        await database.dispose()
    mail = fast_settings.data_dir / "mail"

    async def mailed() -> list[str]:
        return [path.read_text() for path in mail.glob("*.eml")] if mail.exists() else []

    [raw] = await eventually(mailed)
    message = email.message_from_string(raw)
    assert message["To"] == "manager@facility.example"
    assert message["Subject"] == "[SeqTrack] sample.status_changed: ST-0002"
    assert "ST-0002 moved from submitted to received." in message.get_payload()
