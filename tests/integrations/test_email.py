"""Who gets an e-mail for a sample event: only people who may still read that sample, for events that exist."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from seqtrack.events.recorder import DomainEvent, envelope, record
from seqtrack.identity import service as identity
from seqtrack.identity.deps import current_actor
from seqtrack.integrations import email
from seqtrack.integrations.schemas import NotificationPreferencesIn
from seqtrack.jobs.models import Job
from seqtrack.platform import crypto
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Permission, Role
from tests.fixtures.identity import make_member, make_tenant


async def _choose(database: Database, actor: Actor, to: str | None, event_types: list[str]) -> None:
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
    # The ledger keeps arguments for days (dead letters longer): the address in it is sealed.
    assert all(crypto.is_token(job.args["to"]) for job in jobs)
    return {(crypto.unseal(job.args["to"]), job.args["subject"]) for job in jobs}


async def test_only_active_members_who_may_read_the_sample_get_its_email(database: Database) -> None:
    tenant = await make_tenant(database)
    manager = await make_member(database, tenant, Role.MANAGER, email="manager@facility.example")
    ortiz = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Ortiz lab"], email="ortiz@uni.example")
    chen = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Chen lab"], email="chen@uni.example")
    leaver = await make_member(database, tenant, Role.TECHNICIAN, email="leaver@facility.example")
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
        (manager.actor, manager.email),
        (ortiz.actor, ortiz.email),
        (chen.actor, chen.email),
        (leaver.actor, leaver.email),
        (key_actor, None),
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


async def test_notifications_go_only_to_the_members_own_address(database: Database) -> None:
    import pytest

    from seqtrack.platform.errors import InvalidInput

    tenant = await make_tenant(database)
    manager = await make_member(database, tenant, Role.MANAGER, email="manager@facility.example")
    with pytest.raises(InvalidInput) as refused:
        await _choose(database, manager.actor, "manager@gmail.example", ["sample.status_changed:received"])
    assert [error["field"] for error in refused.value.extra["errors"]] == ["email"]
    async with database.read_session() as session:
        assert await email.get_preferences(session, manager.actor) is None

    await _choose(database, manager.actor, None, ["sample.status_changed:received"])
    async with database.read_session() as session:
        chosen = await email.get_preferences(session, manager.actor)
    assert chosen is not None
    assert chosen.email == "manager@facility.example"
    await _status_changed(database, tenant, "ST-0001", uuid.uuid4(), "received")
    assert await _mailed(database) == {("manager@facility.example", "[SeqTrack] sample.status_changed: ST-0001")}


async def test_a_notification_reads_like_a_person_wrote_it(database: Database) -> None:
    from seqtrack.events.models import EventRecord
    from seqtrack.samples import service as samples
    from seqtrack.samples.lifecycle import SampleStatus
    from seqtrack.samples.schemas import QcIn
    from tests.fixtures.actors import staff_actor
    from tests.fixtures.samples import new_sample

    actor = staff_actor(await make_tenant(database))
    sample = await new_sample(database, actor)
    async with database.write_session() as session:
        await samples.transition(
            session, actor, sample.id, SampleStatus.RECEIVED, reason="Arrived on dry ice", signature=None
        )
        await samples.transition(session, actor, sample.id, SampleStatus.QC, reason=None, signature=None)
        await samples.record_qc(session, actor, sample.id, QcIn(kind="din", value=8.1))
    async with database.read_session() as session:
        stored = (await session.scalars(select(EventRecord).order_by(EventRecord.position))).all()
    bodies = {record.type + ":" + str(record.version): email.describe(envelope(record))[1] for record in stored}

    received = bodies["sample.status_changed:2"]
    assert received.startswith(f"{sample.human_id} moved from submitted to received.")
    assert "Reason: Arrived on dry ice" in received
    for body in bodies.values():
        assert "None" not in body, body
        lines = [line for line in body.splitlines() if line]
        assert len(lines) == len(set(lines)), body
        assert sum("received" in line for line in lines if "status" in line.lower()) <= 1, body
