"""Consumers act only on the events they subscribe to; the rest cost them no write and no row."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from seqtrack.events import consumers
from seqtrack.events.bus import InProcessBus, Notifier
from seqtrack.events.models import OutboxMessage, ProcessedEvent
from seqtrack.events.recorder import DomainEvent, envelope, record
from seqtrack.events.relay import Relay
from seqtrack.integrations import email, webhooks
from seqtrack.integrations.models import WebhookDelivery
from seqtrack.integrations.schemas import NotificationPreferencesIn
from seqtrack.jobs.models import Job
from seqtrack.platform import crypto
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.webhooks import subscribe


async def _record(database: Database, tenant: uuid.UUID, event_type: str, **data: Any) -> dict[str, Any]:
    async with database.write_session() as session:
        stored = await record(
            session,
            DomainEvent(type=event_type, aggregate_type="sample", aggregate_id=uuid.uuid4(), data=data),
            staff_actor(tenant),
        )
    return envelope(stored)


async def _count(database: Database, model: type, *where: Any) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _processed_by(name: str) -> Any:
    return ProcessedEvent.consumer == name


async def test_idle_webhook_and_email_consumers_write_no_row_for_events_nobody_subscribed_to(
    database: Database, settings: Settings
) -> None:
    handlers = {target.handler for target in consumers.registered()}
    assert {webhooks.fan_out, email.notify_subscribers} <= handlers
    tenant = uuid.uuid4()
    await _record(database, tenant, "sample.received", bench="B1")
    await _record(database, tenant, "sample.status_changed", to="qc")
    await _record(database, tenant, "job.retried", task="email.send")

    assert await Relay(settings, database, InProcessBus(database), Notifier()).publish_pending() == 3
    assert await _count(database, OutboxMessage, OutboxMessage.published_at.is_(None)) == 0
    assert await _count(database, ProcessedEvent) == 0
    assert await _count(database, WebhookDelivery) == 0
    assert await _count(database, Job) == 0


async def test_a_webhook_gets_its_subscribed_event_once_and_other_events_leave_no_row(database: Database) -> None:
    tenant = uuid.uuid4()
    await subscribe(database, tenant, ["sample.received"])
    received = await _record(database, tenant, "sample.received", bench="B1")
    qc = await _record(database, tenant, "sample.qc_recorded", kind="qubit")
    elsewhere = await _record(database, uuid.uuid4(), "sample.received", bench="B2")

    # Each event delivered twice, as after a relay crash between publish and mark-sent.
    for delivered in (received, qc, elsewhere, received, qc, elsewhere):
        await consumers.apply_to_all(database, delivered)

    async with database.read_session() as session:
        deliveries = (await session.scalars(select(WebhookDelivery))).all()
        processed = (await session.scalars(select(ProcessedEvent).where(_processed_by("webhooks")))).all()
    assert [delivery.event_id for delivery in deliveries] == [uuid.UUID(received["id"])]
    assert [row.event_id for row in processed] == [uuid.UUID(received["id"])]


async def test_the_email_consumer_sees_only_sample_events_and_records_only_those_someone_chose(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    # Notifications go to the account's own address only.
    manager = await make_member(database, tenant, Role.MANAGER, email="manager@facility.example")
    async with database.write_session() as session:
        await email.set_preferences(
            session,
            manager.actor,
            NotificationPreferencesIn(email="manager@facility.example", event_types=["sample.status_changed:received"]),
        )
    notifier = next(target for target in consumers.registered() if target.name == "email_notifications")
    arrived = await _record(database, tenant, "sample.status_changed", human_id="ST-0001", to="received")
    to_qc = await _record(database, tenant, "sample.status_changed", human_id="ST-0001", to="qc")
    job_event = await _record(database, tenant, "job.retried", task="email.send")

    assert not notifier.wants(job_event)
    for delivered in (arrived, to_qc, job_event, arrived):
        await consumers.apply_once(database, notifier, delivered)

    async with database.read_session() as session:
        processed = (await session.scalars(select(ProcessedEvent).where(_processed_by("email_notifications")))).all()
        mails = (await session.scalars(select(Job).where(Job.task == email.SEND_TASK))).all()
    assert [row.event_id for row in processed] == [uuid.UUID(arrived["id"])]
    assert [crypto.unseal(mail.args["to"]) for mail in mails] == ["manager@facility.example"]


def test_a_consumer_subscribes_by_exact_name_or_prefix() -> None:
    assert consumers.matches(["sample.*"], "sample.received")
    assert not consumers.matches(["sample.*"], "samples.received")
    assert consumers.matches(["job.retried"], "job.retried")
    assert not consumers.matches(["job.retried"], "job.retried_twice")
    assert consumers.matches(["*"], "webhook.disabled")
