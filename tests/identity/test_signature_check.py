"""check_signature: e-signature re-authentication before the signing unit of work, argon2 outside any transaction."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

from sqlalchemy import select, text

from seqtrack.audit.models import AuditEntry
from seqtrack.identity import service
from seqtrack.identity.models import User
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from tests.fixtures.identity import make_member, make_tenant, new_password


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


async def test_a_signature_is_accepted_with_the_users_current_password_only(database: Database) -> None:
    member = await make_member(database, await make_tenant(database))
    assert await service.check_signature(database, member.actor, member.password) is True
    assert await service.check_signature(database, member.actor, new_password()) is False


async def test_keys_system_actors_and_users_of_another_tenant_cannot_sign(database: Database) -> None:
    member = await make_member(database, await make_tenant(database))
    key = dataclasses.replace(member.actor, kind="api_key", principal_id=uuid.uuid4())
    elsewhere = dataclasses.replace(member.actor, tenant_id=await make_tenant(database))
    for actor in (key, Actor.system(member.tenant_id), elsewhere):
        assert await service.check_signature(database, actor, member.password) is False


async def test_wrong_signature_passwords_count_toward_the_lockout_and_a_locked_account_is_refused(
    database: Database,
) -> None:
    member = await make_member(database, await make_tenant(database))
    assert await service.check_signature(database, member.actor, new_password()) is False
    assert (await _user(database, member.user_id)).failed_logins == 1
    for _ in range(4):
        assert await service.check_signature(database, member.actor, new_password()) is False

    assert service.is_locked(await _user(database, member.user_id))
    assert await service.check_signature(database, member.actor, member.password) is False
    actions = await _actions(database, member.user_id)
    assert actions.count("user.login_failed") == 5
    assert "user.locked_out" in actions
    assert actions[-1] == "user.login_refused"


async def test_a_right_password_resets_the_count_of_failures(database: Database) -> None:
    member = await make_member(database, await make_tenant(database))
    assert await service.check_signature(database, member.actor, new_password()) is False
    assert await service.check_signature(database, member.actor, member.password) is True
    assert (await _user(database, member.user_id)).failed_logins == 0


async def test_a_right_password_is_checked_while_another_unit_of_work_holds_the_writer(database: Database) -> None:
    member = await make_member(database, await make_tenant(database))
    async with database.write_session() as session:
        await session.execute(text("SELECT 1"))
        # Were argon2 inside a unit of work, this would wait for the block to end: it never would.
        signed = await asyncio.wait_for(service.check_signature(database, member.actor, member.password), 5)
    assert signed is True
