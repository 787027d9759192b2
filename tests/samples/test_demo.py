"""`seqtrack demo load`: a living facility in a new tenant, loaded once, with a sound audit trail."""

from __future__ import annotations

import secrets
from collections import Counter

import pytest
from sqlalchemy import select

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
