"""Identity use cases: signature re-authentication, lockout, labs."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from seqtrack.audit.models import AuditEntry
from seqtrack.identity import service
from seqtrack.identity.models import User
from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from tests.fixtures.identity import make_member, make_tenant


async def _user(database: Database, user_id: uuid.UUID) -> User:
    async with database.read_session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def _actions(database: Database, user_id: uuid.UUID) -> list[str]:
    async with database.read_session() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_id == user_id)
            .order_by(AuditEntry.tenant_id, AuditEntry.sequence)
        )
        return list(rows.all())


async def test_a_users_labs_are_those_of_the_asked_tenant_only(database: Database) -> None:
    tenant_a = await make_tenant(database)
    tenant_b = await make_tenant(database)
    member = await make_member(database, tenant_a, Role.SUBMITTER, lab_names=["Genomics", "Virology"])
    async with database.write_session() as session:
        assert await service.lab_ids_of_user(session, tenant_a, member.user_id) == member.lab_ids
        assert len(member.lab_ids) == 2
        assert await service.lab_ids_of_user(session, tenant_b, member.user_id) == frozenset()
