"""Identity use cases: signature re-authentication, lockout, labs."""

from __future__ import annotations

from seqtrack.identity import service
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.identity import make_member, make_tenant


async def test_a_users_labs_are_those_of_the_asked_tenant_only(database: Database) -> None:
    tenant_a = await make_tenant(database)
    tenant_b = await make_tenant(database)
    member = await make_member(database, tenant_a, Role.SUBMITTER, lab_names=["Genomics", "Virology"])
    async with database.write_session() as session:
        assert await service.lab_ids_of_user(session, tenant_a, member.user_id) == member.lab_ids
        assert len(member.lab_ids) == 2
        assert await service.lab_ids_of_user(session, tenant_b, member.user_id) == frozenset()
