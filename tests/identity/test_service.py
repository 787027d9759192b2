"""Identity use cases: signature re-authentication, lockout, labs."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import select

from seqtrack.audit.models import AuditEntry
from seqtrack.identity import service
from seqtrack.identity.actor import Actor
from seqtrack.identity.models import User
from seqtrack.identity.permissions import Role
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
    async with database.write_session() as session:
        assert await service.verify_signature_password(session, member.actor, member.password) is True
    async with database.write_session() as session:
        assert await service.verify_signature_password(session, member.actor, new_password()) is False


async def test_a_system_actor_or_api_key_cannot_sign(database: Database) -> None:
    member = await make_member(database, await make_tenant(database))
    key_actor = dataclasses.replace(member.actor, kind="api_key", principal_id=uuid.uuid4())
    async with database.write_session() as session:
        assert await service.verify_signature_password(session, key_actor, member.password) is False
        system = Actor.system(member.tenant_id)
        assert await service.verify_signature_password(session, system, member.password) is False


async def test_a_user_of_another_tenant_cannot_sign_in_this_one(database: Database) -> None:
    member = await make_member(database, await make_tenant(database))
    elsewhere = dataclasses.replace(member.actor, tenant_id=await make_tenant(database))
    async with database.write_session() as session:
        assert await service.verify_signature_password(session, elsewhere, member.password) is False


async def test_a_wrong_signature_password_is_counted_even_when_the_callers_work_rolls_back(
    database: Database,
) -> None:
    member = await make_member(database, await make_tenant(database))

    class SignatureRefused(Exception):
        pass

    with pytest.raises(SignatureRefused):
        async with database.write_session() as session:
            if not await service.verify_signature_password(session, member.actor, new_password()):
                raise SignatureRefused

    assert (await _user(database, member.user_id)).failed_logins == 1
    assert "user.login_failed" in await _actions(database, member.user_id)


async def test_five_wrong_signature_passwords_lock_the_account_and_then_the_right_one_is_refused(
    database: Database,
) -> None:
    member = await make_member(database, await make_tenant(database))
    for _ in range(5):
        async with database.write_session() as session:
            assert await service.verify_signature_password(session, member.actor, new_password()) is False

    assert service.is_locked(await _user(database, member.user_id))
    async with database.write_session() as session:
        assert await service.verify_signature_password(session, member.actor, member.password) is False
    actions = await _actions(database, member.user_id)
    assert actions.count("user.login_failed") == 5
    assert "user.locked_out" in actions
    assert actions[-1] == "user.login_refused"


async def test_a_right_password_resets_the_count_of_failures(database: Database) -> None:
    member = await make_member(database, await make_tenant(database))
    async with database.write_session() as session:
        await service.verify_signature_password(session, member.actor, new_password())
    async with database.write_session() as session:
        assert await service.verify_signature_password(session, member.actor, member.password)
    assert (await _user(database, member.user_id)).failed_logins == 0


async def test_a_users_labs_are_those_of_the_asked_tenant_only(database: Database) -> None:
    tenant_a = await make_tenant(database)
    tenant_b = await make_tenant(database)
    member = await make_member(database, tenant_a, Role.SUBMITTER, lab_names=["Genomics", "Virology"])
    async with database.write_session() as session:
        assert await service.lab_ids_of_user(session, tenant_a, member.user_id) == member.lab_ids
        assert len(member.lab_ids) == 2
        assert await service.lab_ids_of_user(session, tenant_b, member.user_id) == frozenset()
