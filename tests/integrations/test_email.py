"""Who gets an e-mail for a sample event: only people who may still read that sample, for events that exist."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from seqtrack.audit.models import AuditEntry
from seqtrack.events.recorder import DomainEvent, envelope, record
from seqtrack.identity import service as identity
from seqtrack.identity.deps import current_actor
from seqtrack.integrations import email
from seqtrack.integrations.schemas import NotificationPreferencesIn
from seqtrack.jobs.models import Job
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Permission, Role
from seqtrack.settings import Settings
from tests.fixtures.identity import make_member, make_tenant


async def _choose(database: Database, actor: Actor, to: str, event_types: list[str]) -> None:
    async with database.write_session() as session:
        await email.set_preferences(session, actor, NotificationPreferencesIn(email=to, event_types=event_types))


async def _status_changed(database: Database, tenant: uuid.UUID, human_id: str, lab_id: uuid.UUID, to: str) -> None:
    """The event the samples domain records when a tube changes state, and its e-mail consumer run."""
    async with database.write_session() as session:
        stored = await record(
            session,
            DomainEvent(
                type="sample.status_changed",
                aggregate_type="sample",
                aggregate_id=uuid.uuid4(),
                data={"human_id": human_id, "lab_id": lab_id, "from": "submitted", "to": to},
            ),
            Actor.system(tenant),
        )
        await email.notify_subscribers(session, envelope(stored))


async def _mailed(database: Database) -> set[tuple[str, str]]:
    async with database.read_session() as session:
        jobs = (await session.scalars(select(Job).where(Job.task == email.SEND_TASK))).all()
    return {(job.args["to"], job.args["subject"]) for job in jobs}


async def test_only_active_members_who_may_read_the_sample_get_its_email(database: Database) -> None:
    tenant = await make_tenant(database)
    manager = await make_member(database, tenant, Role.MANAGER)
    ortiz = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Ortiz lab"])
    chen = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Chen lab"])
    leaver = await make_member(database, tenant, Role.TECHNICIAN)
    integrator = await make_member(database, tenant, Role.TECHNICIAN)
    async with database.write_session() as session:
        key, _ = await identity.create_api_key(
            session, integrator.actor, name="lims bridge", permissions=[Permission.SAMPLES_READ], expires_at=None
        )
    key_actor = Actor(
        tenant_id=tenant,
        kind="api_key",
        principal_id=key.id,
        user_id=integrator.user_id,
        display="API key",
        role=Role.TECHNICIAN,
        permissions=frozenset({Permission.SAMPLES_READ}),
    )
    arrivals = ["sample.status_changed:received"]
    for actor, to in (
        (manager.actor, "manager@facility.example"),
        (ortiz.actor, "ortiz@uni.example"),
        (chen.actor, "chen@uni.example"),
        (leaver.actor, "leaver@facility.example"),
        (key_actor, "bridge@facility.example"),
    ):
        await _choose(database, actor, to, arrivals)
    async with database.write_session() as session:
        await identity.update_member(session, Actor.system(tenant), leaver.user_id, status="disabled")
        await identity.revoke_api_key(session, integrator.actor, key.id)
    [ortiz_lab] = ortiz.lab_ids
    [chen_lab] = chen.lab_ids

    await _status_changed(database, tenant, "ST-0001", ortiz_lab, "received")
    await _status_changed(database, tenant, "ST-0002", chen_lab, "received")
    await _status_changed(database, tenant, "ST-0003", ortiz_lab, "qc")

    assert await _mailed(database) == {
        ("manager@facility.example", "[SeqTrack] sample.status_changed: ST-0001"),
        ("manager@facility.example", "[SeqTrack] sample.status_changed: ST-0002"),
        ("ortiz@uni.example", "[SeqTrack] sample.status_changed: ST-0001"),
        ("chen@uni.example", "[SeqTrack] sample.status_changed: ST-0002"),
    }


async def test_choosing_an_event_type_that_does_not_exist_is_refused_naming_the_field(
    manager_client: httpx.AsyncClient,
) -> None:
    for wrong in (["sample.received"], ["sample.qc_failed"], ["sample.status_changed:teleported"]):
        refused = await manager_client.put(
            "/api/v1/notifications/preferences", json={"email": "manager@facility.example", "event_types": wrong}
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [error["field"] for error in refused.json()["errors"]] == ["event_types"]
        assert wrong[0] in refused.json()["errors"][0]["message"]
    assert (await manager_client.get("/api/v1/notifications/preferences")).status_code == 404


async def test_a_caller_without_samples_read_cannot_subscribe_to_sample_emails(
    manager_app: FastAPI, manager_client: httpx.AsyncClient, tenant_id: uuid.UUID
) -> None:
    webhook_only = Actor(
        tenant_id=tenant_id,
        kind="api_key",
        principal_id=uuid.uuid4(),
        display="API key for webhooks",
        permissions=frozenset({Permission.WEBHOOKS_MANAGE}),
    )
    manager_app.dependency_overrides[current_actor] = lambda: webhook_only
    refused = await manager_client.put(
        "/api/v1/notifications/preferences",
        json={"email": "somebody@elsewhere.example", "event_types": ["sample.*"]},
    )
    assert refused.status_code == 403
    assert refused.json()["permission"] == "samples:read"


async def test_redirecting_ones_emails_to_another_address_leaves_an_audit_entry(
    manager_client: httpx.AsyncClient, fast_settings: Settings
) -> None:
    for address in ("manager@facility.example", "manager@gmail.example"):
        chosen = await manager_client.put(
            "/api/v1/notifications/preferences", json={"email": address, "event_types": ["sample.qc_recorded"]}
        )
        assert chosen.status_code == 200
    database = Database(fast_settings)
    try:
        async with database.read_session() as session:
            entries = (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action == "notification_preferences.changed")
                    .order_by(AuditEntry.sequence)
                )
            ).all()
    finally:
        await database.dispose()
    changes: list[dict[str, Any]] = [entry.changes for entry in entries]
    assert len(changes) == 2
    assert changes[1]["email"] == ["manager@facility.example", "manager@gmail.example"]
    assert "event_types" not in changes[1]
