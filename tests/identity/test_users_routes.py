"""Users, roles, labs and the facility over HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.identity import join_facility, make_member, make_tenant, new_password
from tests.identity.helpers import access_token, audit_actions, bearer, patch


async def test_an_admin_creates_a_user_who_can_then_log_in(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_member(database, await make_tenant(database), Role.ADMIN)
    token = await access_token(client, admin)
    lab = (await client.post("/api/v1/labs", json={"name": "Microbiome"}, headers=bearer(token))).json()
    password = new_password()
    created = await client.post(
        "/api/v1/users",
        json={
            "email": "Pat.Doe@Uni.example",
            "display_name": "Pat Doe",
            "password": password,
            "role": "submitter",
            "lab_ids": [lab["id"]],
        },
        headers=bearer(token),
    )
    assert created.status_code == 201
    assert created.json()["email"] == "pat.doe@uni.example"
    assert created.json()["lab_ids"] == [lab["id"]]
    assert "password" not in created.text
    login = await client.post("/api/v1/auth/token", json={"email": "pat.doe@uni.example", "password": password})
    assert login.status_code == 200
    me = (await client.get("/api/v1/me", headers=bearer(login.json()["access_token"]))).json()
    assert me["lab_ids"] == [lab["id"]]


async def test_a_new_user_needs_a_real_password_and_an_unused_email(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_member(database, await make_tenant(database), Role.ADMIN)
    token = await access_token(client, admin)
    body = {"email": "sam@uni.example", "display_name": "Sam", "password": "short", "role": "technician"}
    weak = await client.post("/api/v1/users", json=body, headers=bearer(token))
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "password"
    taken = await client.post(
        "/api/v1/users", json={**body, "email": admin.email, "password": new_password()}, headers=bearer(token)
    )
    assert taken.status_code == 409


async def test_a_role_change_is_audited_and_the_last_admin_cannot_be_demoted(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    token = await access_token(client, admin)
    promoted = await patch(client, f"/api/v1/users/{technician.user_id}", {"role": "manager"}, token)
    assert promoted.json()["role"] == "manager"
    assert (await audit_actions(database, technician.user_id)).count("user.role_changed") == 2

    last = await patch(client, f"/api/v1/users/{admin.user_id}", {"role": "auditor"}, token)
    assert last.status_code == 409
    assert last.json()["code"] == "identity.last_administrator"


async def test_a_submitter_sees_only_their_own_labs(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    submitter = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Genomics"])
    other = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Virology"])
    token = await access_token(client, submitter)
    labs = (await client.get("/api/v1/labs", headers=bearer(token))).json()["items"]
    assert [lab["name"] for lab in labs] == ["Genomics"]
    (other_lab,) = other.lab_ids
    assert (await client.get(f"/api/v1/labs/{other_lab}", headers=bearer(token))).status_code == 404


async def test_an_auditor_reads_users_but_changes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    auditor = await make_member(database, tenant, Role.AUDITOR)
    token = await access_token(client, auditor)
    assert (await client.get("/api/v1/users", headers=bearer(token))).status_code == 200
    change = await client.patch(f"/api/v1/users/{auditor.user_id}", json={"role": "admin"}, headers=bearer(token))
    assert change.status_code == 403


async def test_changing_the_password_ends_old_log_ins(client: httpx.AsyncClient, database: Database) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    pair = (await client.post("/api/v1/auth/token", json={"email": member.email, "password": member.password})).json()
    wrong = await client.post(
        "/api/v1/me/password",
        json={"current_password": new_password(), "new_password": new_password()},
        headers=bearer(pair["access_token"]),
    )
    assert wrong.status_code == 403
    assert "user.login_failed" in await audit_actions(database, member.user_id)

    fresh = new_password()
    changed = await client.post(
        "/api/v1/me/password",
        json={"current_password": member.password, "new_password": fresh},
        headers=bearer(pair["access_token"]),
    )
    assert changed.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(pair["access_token"]))).status_code == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 401
    old = await client.post("/api/v1/auth/token", json={"email": member.email, "password": member.password})
    assert old.status_code == 401
    new = await client.post("/api/v1/auth/token", json={"email": member.email, "password": fresh})
    assert new.status_code == 200


async def test_the_facility_is_renamed_by_its_admin_only(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    manager = await make_member(database, tenant, Role.MANAGER)
    admin_token = await access_token(client, admin)
    renamed = await patch(client, "/api/v1/tenants/current", {"name": "Core Sequencing"}, admin_token)
    assert renamed.json()["name"] == "Core Sequencing"
    assert "tenant.updated" in await audit_actions(database, tenant)
    refused = await patch(client, "/api/v1/tenants/current", {"name": "Mine"}, await access_token(client, manager))
    assert refused.status_code == 403


async def test_a_user_id_of_another_facility_is_not_found(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_member(database, await make_tenant(database), Role.ADMIN)
    stranger = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    token = await access_token(client, admin)
    for user_id in (stranger.user_id, uuid.uuid4()):
        response = await client.get(f"/api/v1/users/{user_id}", headers=bearer(token))
        assert response.status_code == 404


async def test_a_change_needs_the_etag_of_the_last_read_and_a_stale_one_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    token = await access_token(client, admin)
    lab = (await client.post("/api/v1/labs", json={"name": "Genomics"}, headers=bearer(token))).json()
    url = f"/api/v1/labs/{lab['id']}"
    etag = (await client.get(url, headers=bearer(token))).headers["etag"]

    missing = await client.patch(url, json={"name": "Genomics Core"}, headers=bearer(token))
    assert missing.status_code == 428
    first = await client.patch(url, json={"name": "Genomics Core"}, headers={**bearer(token), "If-Match": etag})
    assert first.status_code == 200
    assert first.headers["etag"] != etag
    stale = await client.patch(url, json={"name": "Genomics Unit"}, headers={**bearer(token), "If-Match": etag})
    assert stale.status_code == 412
    assert (await client.get(url, headers=bearer(token))).json()["name"] == "Genomics Core"


async def test_a_member_lists_the_facilities_they_belong_to_and_no_other(
    client: httpx.AsyncClient, database: Database
) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    await make_tenant(database)
    token = await access_token(client, member)
    tenants = (await client.get("/api/v1/tenants", headers=bearer(token))).json()["items"]
    assert [tenant["id"] for tenant in tenants] == [str(member.tenant_id)]


async def test_disabling_a_user_shuts_them_out_of_this_facility_only(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant_a, tenant_b = await make_tenant(database), await make_tenant(database)
    admin_a = await make_member(database, tenant_a, Role.ADMIN)
    shared = await make_member(database, tenant_a, Role.TECHNICIAN)
    slug_b = await join_facility(database, shared, Role.TECHNICIAN, tenant_b)

    disabled = await patch(
        client, f"/api/v1/users/{shared.user_id}", {"status": "disabled"}, await access_token(client, admin_a)
    )
    assert disabled.json()["status"] == "disabled"
    credentials = {"email": shared.email, "password": shared.password}
    in_a = await client.post("/api/v1/auth/token", json={**credentials, "tenant": shared.tenant_slug})
    in_b = await client.post("/api/v1/auth/token", json={**credentials, "tenant": slug_b})
    assert in_a.status_code == 401
    assert in_b.status_code == 200


async def test_an_empty_installation_says_how_to_create_the_first_administrator(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    async with LifespanManager(app):
        pass
    assert "No administrator yet. Create one with: seqtrack admin create" in capsys.readouterr().out


async def test_listing_users_costs_the_same_statements_for_three_members_or_nine(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    from tests.fixtures.samples import act_as
    from tests.fixtures.statements import counting_statements

    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    act_as(app, admin.actor)

    async def statements_for_listing(expected_members: int) -> int:
        with counting_statements(app.state.database) as statements:
            listed = await client.get("/api/v1/users")
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["items"]) == expected_members
        assert all(item["lab_ids"] for item in listed.json()["items"] if item["role"] == "submitter")
        # The app's background services (relay, consumers) share the engine: count the listing's own reads.
        own_tables = ("FROM users", "FROM memberships", "FROM lab_members")
        return len([sql for sql in statements.sent if any(table in sql for table in own_tables)])

    for index in range(2):
        await make_member(database, tenant, Role.SUBMITTER, lab_names=[f"Lab {index}"])
    # A new connection's own first statements are not the listing's.
    await statements_for_listing(3)
    few = await statements_for_listing(3)
    for index in range(6):
        await make_member(database, tenant, Role.SUBMITTER, lab_names=[f"Lab {index}"])
    assert await statements_for_listing(9) == few == 1
