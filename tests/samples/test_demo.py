"""`seqtrack demo load`: a living facility in a new tenant, loaded once, with a sound audit trail."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from seqtrack.audit import service as audit_service
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from seqtrack.samples import demo
from seqtrack.samples.errors import AlreadyLoaded
from seqtrack.samples.models import QcMeasurement, Sample


async def test_demo_data_spreads_samples_over_the_lifecycle_and_loads_only_once(database: Database) -> None:
    slug = f"demo-{secrets.token_hex(3)}"
    facility = await demo.load(database, slug, 30)
    async with database.snapshot_session() as session:
        samples = list(await session.scalars(select(Sample).where(Sample.tenant_id == facility.tenant_id)))
        measured = len(list(await session.scalars(select(QcMeasurement.id))))
        verification = await audit_service.verify(session, facility.tenant_id)
    states = Counter(sample.status for sample in samples)
    assert sum(states.values()) == 30
    assert len(states) >= 5, states
    assert measured > 0
    assert verification.ok
    roles = Counter(account.role for account in facility.accounts)
    assert roles[Role.SUBMITTER] == len(demo.LABS)
    assert roles[Role.TECHNICIAN] == 2
    assert len({account.password for account in facility.accounts}) == len(facility.accounts)
    assert len({sample.lab_id for sample in samples}) > 1
    with pytest.raises(AlreadyLoaded, match="exists already"):
        await demo.load(database, slug, 10)


async def test_demo_data_reads_like_a_facilitys_history(database: Database) -> None:
    from seqtrack.events.models import EventRecord
    from seqtrack.identity.models import User
    from seqtrack.samples.models import ProcessingStep

    facility = await demo.load(database, f"demo-{secrets.token_hex(3)}", 60)
    async with database.read_session() as session:
        events = list(await session.scalars(select(EventRecord).where(EventRecord.tenant_id == facility.tenant_id)))
        samples = list(await session.scalars(select(Sample).where(Sample.tenant_id == facility.tenant_id)))
        users = {user.email: user for user in await session.scalars(select(User))}
        open_steps_of_finished = await session.scalar(
            select(func.count())
            .select_from(ProcessingStep)
            .join(Sample, Sample.id == ProcessingStep.sample_id)
            .where(Sample.status.in_(["delivered", "archived"]), ProcessingStep.status.in_(["pending", "in_progress"]))
        )

    # Weeks of history, so turnaround means something.
    times = [event.occurred_at for event in events]
    assert max(times) - min(times) > timedelta(days=21)
    delivered = [sample for sample in samples if sample.delivered_at is not None]
    assert delivered
    assert all(
        timedelta(days=2) < sample.delivered_at - sample.received_at
        for sample in delivered
        if sample.delivered_at and sample.received_at
    )

    # Reasons a person would write, not a placeholder.
    reasons = [event.data.get("reason") for event in events if event.type == "sample.status_changed"]
    assert all(reasons)
    assert "demo data" not in reasons
    assert len(set(reasons)) > 8

    # People are called what their accounts say; a lab's PI is its samples' submitter.
    for account in facility.accounts:
        name = users[account.email].display_name
        assert "@" not in name
        assert name.replace("Dr. ", "").split()[-1].lower() in account.email
    assert {sample.submitter_name for sample in samples} <= {users[a.email].display_name for a in facility.accounts}
    assert open_steps_of_finished == 0
