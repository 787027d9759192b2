"""An account that belongs to two facilities: each facility manages its membership, the person their profile."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from seqtrack.identity import repository
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.identity import Member, join_facility, make_member, make_tenant, new_password
from tests.identity.helpers import access_token, audit_actions, bearer, patch


@dataclass(frozen=True)
class SharedAccount:
    admin: Member  # of the first facility
    shared: Member  # of the first facility, and a technician of another one too
    other_slug: str


@pytest.fixture
async def facility(database: Database) -> SharedAccount:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    shared = await make_member(database, tenant, Role.TECHNICIAN)
    return SharedAccount(admin, shared, await join_facility(database, shared, Role.TECHNICIAN))


async def _log_in(client: httpx.AsyncClient, member: Member, slug: str) -> str:
    answer = await client.post(
        "/api/v1/auth/token", json={"email": member.email, "password": member.password, "tenant": slug}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def test_an_admin_cannot_rename_an_account_that_also_belongs_to_another_facility(
    client: httpx.AsyncClient, facility: SharedAccount
) -> None:
    admin, shared = facility.admin, facility.shared
    token = await access_token(client, admin)
    url = f"/api/v1/users/{shared.user_id}"

    renamed = await patch(client, url, {"display_name": "Someone Else"}, token)

    assert renamed.status_code == 403, renamed.text
    assert renamed.json()["code"] == "identity.profile_not_yours"
    assert (await client.get(url, headers=bearer(token))).json()["display_name"] == shared.email.split("@")[0]


async def test_an_admin_still_manages_the_membership_of_a_shared_account(
    client: httpx.AsyncClient, facility: SharedAccount
) -> None:
    admin, shared = facility.admin, facility.shared

    changed = await patch(
        client,
        f"/api/v1/users/{shared.user_id}",
        {"role": "manager", "status": "disabled"},
        await access_token(client, admin),
    )

    assert changed.status_code == 200, changed.text
    assert (changed.json()["role"], changed.json()["status"]) == ("manager", "disabled")


async def test_an_admin_renames_an_account_of_their_facility_alone(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    own = await make_member(database, tenant, Role.TECHNICIAN)

    renamed = await patch(
        client, f"/api/v1/users/{own.user_id}", {"display_name": "Pat Doe"}, await access_token(client, admin)
    )

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["display_name"] == "Pat Doe"


async def test_a_facility_sees_only_the_last_log_in_to_itself(
    client: httpx.AsyncClient, facility: SharedAccount
) -> None:
    admin, shared, other_slug = facility.admin, facility.shared, facility.other_slug
    admin_token = await access_token(client, admin)
    url = f"/api/v1/users/{shared.user_id}"

    await _log_in(client, shared, other_slug)
    assert (await client.get(url, headers=bearer(admin_token))).json()["last_login_at"] is None
    listed = (await client.get("/api/v1/users", headers=bearer(admin_token))).json()["items"]
    assert [item["last_login_at"] for item in listed if item["id"] == str(shared.user_id)] == [None]

    await _log_in(client, shared, shared.tenant_slug)
    assert (await client.get(url, headers=bearer(admin_token))).json()["last_login_at"] is not None


async def test_the_person_renames_themselves_in_every_facility(client: httpx.AsyncClient, database: Database) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    other_slug = await join_facility(database, member, Role.TECHNICIAN)
    token = await access_token(client, member)

    renamed = await client.patch("/api/v1/me/profile", json={"display_name": "Pat Doe"}, headers=bearer(token))

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["display_name"] == "Pat Doe"
    elsewhere = await _log_in(client, member, other_slug)
    assert (await client.get("/api/v1/me", headers=bearer(elsewhere))).json()["display"] == "Pat Doe"
    assert "user.updated" in await audit_actions(database, member.user_id)


async def test_the_person_changes_their_e_mail_only_with_their_password(
    client: httpx.AsyncClient, database: Database
) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    token = await access_token(client, member)
    new_email = f"moved-{member.email}"

    refused = await client.patch(
        "/api/v1/me/profile", json={"email": new_email, "current_password": new_password()}, headers=bearer(token)
    )
    assert refused.status_code == 403
    moved = await client.patch(
        "/api/v1/me/profile", json={"email": new_email, "current_password": member.password}, headers=bearer(token)
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["email"] == new_email
    old = await client.post("/api/v1/auth/token", json={"email": member.email, "password": member.password})
    new = await client.post("/api/v1/auth/token", json={"email": new_email, "password": member.password})
    assert (old.status_code, new.status_code) == (401, 200)


async def test_an_e_mail_of_another_account_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    member = await make_member(database, tenant, Role.TECHNICIAN)
    taken = await make_member(database, tenant, Role.TECHNICIAN)

    answer = await client.patch(
        "/api/v1/me/profile",
        json={"email": taken.email, "current_password": member.password},
        headers=bearer(await access_token(client, member)),
    )

    assert answer.status_code == 409
    assert answer.json()["code"] == "identity.email_taken"


async def test_switching_facility_in_the_browser_counts_as_signing_in_to_it(
    client: httpx.AsyncClient, database: Database, facility: SharedAccount
) -> None:
    shared = facility.shared
    opened = await client.post(
        "/api/v1/auth/session",
        json={"email": shared.email, "password": shared.password, "tenant": shared.tenant_slug},
    )
    assert opened.status_code == 200, opened.text

    switched = await client.post(
        "/facility", data={"tenant": facility.other_slug, "csrf_token": opened.json()["csrf_token"]}
    )

    assert switched.status_code == 303, switched.text
    async with database.read_session() as session:
        memberships = await repository.memberships_of(session, shared.user_id)
    assert [membership.last_login_at is not None for membership in memberships] == [True, True]
