"""`seqtrack demo load`: a living facility, loaded once, with a sound audit trail."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from seqtrack.audit import service as audit_service
from seqtrack.platform.database import Database
from seqtrack.samples import demo
from seqtrack.samples.errors import AlreadyLoaded
from seqtrack.samples.models import QcMeasurement, Sample


async def test_demo_data_spreads_samples_over_the_lifecycle_and_loads_only_once(database: Database) -> None:
    tenant = demo.tenant_id_for("demo-facility")
    assert await demo.load(database, tenant, 30) == 30
    async with database.read_session() as session:
        states = Counter(await session.scalars(select(Sample.status).where(Sample.tenant_id == tenant)))
        measured = len(list(await session.scalars(select(QcMeasurement.id))))
        verification = await audit_service.verify(session, tenant)
    assert sum(states.values()) == 30
    assert len(states) >= 5, states
    assert measured > 0
    assert verification.ok
    with pytest.raises(AlreadyLoaded):
        await demo.load(database, tenant, 10)
