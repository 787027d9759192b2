"""Tenant scoping: queries built by the helpers never see another tenant's rows."""

from __future__ import annotations

import uuid

import pytest

from seqtrack.identity.models import Lab, Tenant
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database, after_rollback
from seqtrack.platform.models import new_id
from seqtrack.platform.tenancy import TenantScope, tenant_select


async def _two_tenants_with_a_lab_each(database: Database) -> tuple[uuid.UUID, uuid.UUID]:
    ids = (new_id(), new_id())
    async with database.write_session() as session:
        for tenant_id in ids:
            session.add(Tenant(id=tenant_id, slug=f"t-{tenant_id.hex[-12:]}", name="T", status="active", settings={}))
        await session.flush()
        for tenant_id in ids:
            session.add(Lab(id=new_id(), tenant_id=tenant_id, name="Genomics"))
    return ids


async def test_a_scoped_select_and_scope_return_only_the_callers_tenant(database: Database) -> None:
    mine, theirs = await _two_tenants_with_a_lab_each(database)
    async with database.read_session() as session:
        by_actor = (await session.scalars(tenant_select(Lab, Actor.system(mine)))).all()
        scoped = await TenantScope(session, Lab, mine).list()
        (their_lab,) = await TenantScope(session, Lab, theirs).list()
        assert await TenantScope(session, Lab, mine).get(their_lab.id) is None
    assert [lab.tenant_id for lab in by_actor] == [mine]
    assert [lab.tenant_id for lab in scoped] == [mine]


async def test_a_scope_refuses_to_add_a_row_of_another_tenant(database: Database) -> None:
    mine, theirs = await _two_tenants_with_a_lab_each(database)
    async with database.write_session() as session:
        with pytest.raises(ValueError, match="another tenant"):
            TenantScope(session, Lab, mine).add(Lab(id=new_id(), tenant_id=theirs, name="Virology"))


def test_a_model_without_tenant_id_cannot_be_scoped() -> None:
    with pytest.raises(TypeError, match="not tenant-owned"):
        tenant_select(Tenant, uuid.uuid4())


async def test_an_after_rollback_hook_runs_after_a_failed_unit_of_work_only(database: Database) -> None:
    ran: list[str] = []

    async def note(label: str) -> None:
        ran.append(label)

    async with database.write_session() as session:
        after_rollback(session, "note", lambda: note("committed"))
    with pytest.raises(RuntimeError):
        async with database.write_session() as session:
            after_rollback(session, "note", lambda: note("rolled back"))
            raise RuntimeError("refused")
    assert ran == ["rolled back"]
