"""The admin pages over HTTP, as a browser without JavaScript uses them: forms, redirects, refusals."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from seqtrack.app import create_app
from seqtrack.audit.models import AuditEntry
from seqtrack.identity.models import User
from seqtrack.identity.permissions import Role
from seqtrack.integrations.models import WebhookDelivery
from seqtrack.jobs import service as jobs_service
from seqtrack.jobs.models import Job, JobState
from seqtrack.platform.database import Database
from seqtrack.platform.etag import make_etag
from seqtrack.platform.models import new_id, utcnow
from seqtrack.samples import service as samples_service
from seqtrack.samples.schemas import SettingsUpdate
from seqtrack.settings import Settings
from tests.fixtures.database import make_settings
from tests.fixtures.http import asgi_client
from tests.fixtures.identity import Member, join_facility, make_member, make_tenant, new_password
from tests.fixtures.webhooks import subscribe


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # Webhooks to this machine are refused by default; these tests register one on loopback.
    return make_settings(tmp_path / "data", database_url, webhook_allow_private_networks=True)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(settings)) as http:
        yield http


@pytest.fixture
async def admin(database: Database) -> Member:
    return await make_member(database, await make_tenant(database), Role.ADMIN)


async def _sign_in(client: httpx.AsyncClient, member: Member) -> str:
    response = await client.post("/api/v1/auth/session", json={"email": member.email, "password": member.password})
    assert response.status_code == 200
    return str(response.json()["csrf_token"])


async def _post(
    client: httpx.AsyncClient, csrf: str, path: str, data: Mapping[str, str | Sequence[str]]
) -> httpx.Response:
    return await client.post(path, data={**data, "csrf_token": csrf})


async def test_the_admin_nav_shows_only_what_each_person_may_open(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    technician = await make_member(database, admin.tenant_id, Role.TECHNICIAN)
    await _sign_in(client, technician)
    index = await client.get("/admin")
    assert index.status_code == 200
    assert 'href="/admin/api-keys"' in index.text
    assert 'href="/admin/users"' not in index.text
    assert (await client.get("/admin/users")).status_code == 403
    assert (await client.get("/admin/settings")).status_code == 403

    await _sign_in(client, admin)
    index = await client.get("/admin")
    for path in ("/admin/users", "/admin/labs", "/admin/api-keys", "/admin/webhooks", "/admin/jobs", "/admin/settings"):
        assert f'href="{path}"' in index.text
        assert (await client.get(path)).status_code == 200


async def test_an_admin_adds_a_user_changes_the_role_and_labs_and_disables_them(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    csrf = await _sign_in(client, admin)
    assert (await _post(client, csrf, "/admin/labs", {"name": "Okafor lab"})).status_code == 303
    labs = await client.get("/api/v1/labs")
    (lab,) = labs.json()["items"]
    renamed = await _post(client, csrf, f"/admin/labs/{lab['id']}", {"name": "Okafor group"})
    assert renamed.status_code == 303
    assert "Okafor group" in (await client.get("/admin/labs")).text

    password = new_password()
    created = await _post(
        client,
        csrf,
        "/admin/users",
        {
            "email": "new.person@facility.example",
            "display_name": "New Person",
            "password": password,
            "role": "submitter",
        },
    )
    assert created.status_code == 303
    user_path = created.headers["location"]
    user_id = uuid.UUID(user_path.rsplit("/", 1)[1])

    saved = await _post(
        client, csrf, user_path, {"display_name": "New Person", "role": "technician", "lab_ids": lab["id"]}
    )
    assert saved.status_code == 303
    shown = (await client.get(saved.headers["location"])).text
    assert "Saved." in shown
    user = (await client.get(f"/api/v1/users/{user_id}")).json()
    assert user["role"] == "technician"
    assert user["lab_ids"] == [lab["id"]]

    assert (await _post(client, csrf, f"{user_path}/status", {"status": "disabled"})).status_code == 303
    assert (await client.get(f"/api/v1/users/{user_id}")).json()["status"] == "disabled"
    refused = await client.post(
        "/api/v1/auth/token", json={"email": "new.person@facility.example", "password": password}
    )
    assert refused.status_code == 401
    assert (await _post(client, csrf, f"{user_path}/status", {"status": "active"})).status_code == 303
    assert (await client.get(f"/api/v1/users/{user_id}")).json()["status"] == "active"


async def test_a_refused_new_user_is_explained_beside_the_field_and_nothing_is_created(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    csrf = await _sign_in(client, admin)
    refused = await _post(
        client,
        csrf,
        "/admin/users",
        {"email": admin.email, "display_name": "Twin", "password": new_password(), "role": "technician"},
    )
    assert refused.status_code == 400
    assert "exists already" in refused.text
    assert 'aria-invalid="true"' in refused.text
    async with database.read_session() as session:
        assert len((await session.scalars(select(User))).all()) == 1


async def test_the_last_admin_cannot_disable_themselves_from_the_page(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    other = await make_member(database, admin.tenant_id, Role.ADMIN)
    csrf = await _sign_in(client, other)
    assert (
        await _post(client, csrf, f"/admin/users/{admin.user_id}/status", {"status": "disabled"})
    ).status_code == 303
    refused = await _post(client, csrf, f"/admin/users/{other.user_id}/status", {"status": "disabled"})
    assert refused.status_code == 409
    assert "last administrator" in refused.text


async def test_a_shared_account_shows_its_sign_in_here_only_and_no_name_to_change(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    shared = await make_member(database, admin.tenant_id, Role.TECHNICIAN)
    other_slug = await join_facility(database, shared, Role.TECHNICIAN)
    signed_in_elsewhere = await client.post(
        "/api/v1/auth/token", json={"email": shared.email, "password": shared.password, "tenant": other_slug}
    )
    assert signed_in_elsewhere.status_code == 200
    await _sign_in(client, admin)

    page = (await client.get(f"/admin/users/{shared.user_id}")).text
    listing = (await client.get("/admin/users")).text

    assert 'name="display_name"' not in page
    assert "only its owner can change the name" in page
    assert "<dd data-last-login>—</dd>" in page
    row = listing.split(f'data-user-id="{shared.user_id}"', 1)[1].split("</tr>", 1)[0]
    assert "<td data-last-login>—</td>" in row


async def test_a_person_renames_themselves_and_needs_their_password_to_move_their_e_mail(
    client: httpx.AsyncClient, admin: Member
) -> None:
    csrf = await _sign_in(client, admin)
    assert admin.email in (await client.get("/account/profile")).text

    renamed = await _post(client, csrf, "/account/profile", {"display_name": "Ada Admin", "email": admin.email})
    moved = await _post(client, csrf, "/account/profile", {"display_name": "Ada Admin", "email": f"new-{admin.email}"})

    assert renamed.status_code == 303
    assert "Saved." in (await client.get(renamed.headers["location"])).text
    assert (await client.get("/api/v1/me/profile")).json()["display_name"] == "Ada Admin"
    assert moved.status_code == 400
    assert "current password is needed" in moved.text
    assert (await client.get("/api/v1/me/profile")).json()["email"] == admin.email


async def test_a_locked_account_is_unlocked_from_its_page(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    locked = await make_member(database, admin.tenant_id, Role.TECHNICIAN)
    for _ in range(5):
        await client.post("/api/v1/auth/token", json={"email": locked.email, "password": new_password()})
    csrf = await _sign_in(client, admin)
    page = await client.get(f"/admin/users/{locked.user_id}")
    assert "Unlock account" in page.text
    unlocked = await _post(client, csrf, f"/admin/users/{locked.user_id}/unlock", {})
    assert unlocked.status_code == 303
    page = await client.get(unlocked.headers["location"])
    assert "The account is unlocked" in page.text
    assert "Unlock account" not in page.text
    ok = await client.post("/api/v1/auth/token", json={"email": locked.email, "password": locked.password})
    assert ok.status_code == 200


async def test_an_api_key_secret_is_shown_once_and_the_list_shows_its_prefix_only(
    client: httpx.AsyncClient, admin: Member
) -> None:
    csrf = await _sign_in(client, admin)
    created = await _post(
        client, csrf, "/admin/api-keys", {"name": "sequencer bridge", "permissions": ["samples:read"]}
    )
    assert created.status_code == 303
    shown = await client.get("/admin/api-keys")
    assert shown.headers["cache-control"] == "no-store"
    secret = shown.text.split('data-secret size="60"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert secret.startswith("stk_")
    prefix = secret.split("_")[1]

    again = await client.get("/admin/api-keys")
    assert secret not in again.text
    assert f"stk_{prefix}_…" in again.text
    works = await client.get("/api/v1/samples", headers={"Authorization": f"Bearer {secret}"})
    assert works.status_code == 200

    key_id = (await client.get("/api/v1/api-keys")).json()["items"][0]["id"]
    assert (await _post(client, csrf, f"/admin/api-keys/{key_id}/revoke", {})).status_code == 303
    assert "Revoked" in (await client.get("/admin/api-keys")).text
    client.cookies.clear()
    refused = await client.get("/api/v1/samples", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401


async def test_a_key_asking_for_more_than_its_owner_holds_is_refused(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    technician = await make_member(database, admin.tenant_id, Role.TECHNICIAN)
    csrf = await _sign_in(client, technician)
    refused = await _post(client, csrf, "/admin/api-keys", {"name": "too strong", "permissions": ["users:manage"]})
    assert refused.status_code == 400
    assert "No API keys yet" in refused.text


async def test_webhooks_are_added_their_deliveries_listed_and_redelivered(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    csrf = await _sign_in(client, admin)
    created = await _post(
        client,
        csrf,
        "/admin/webhooks",
        {"url": "http://127.0.0.1:9/hook", "event_types": ["sample.created", "sample.status_changed"]},
    )
    assert created.status_code == 303
    listed = await client.get("/admin/webhooks")
    assert "Signing secret of the new webhook" in listed.text
    assert "Signing secret of the new webhook" not in (await client.get("/admin/webhooks")).text

    webhook_id = await subscribe(database, admin.tenant_id, ["sample.created"])
    delivery_id = new_id()
    async with database.write_session() as session:
        session.add(
            WebhookDelivery(
                id=delivery_id,
                tenant_id=admin.tenant_id,
                webhook_id=webhook_id,
                event_id=uuid.uuid4(),
                event_type="sample.created",
                payload={"type": "sample.created", "id": str(uuid.uuid4())},
                state="failed",
                attempts=8,
                status_code=503,
                error="HTTP 503",
            )
        )
    page = await client.get(f"/admin/webhooks/{webhook_id}")
    assert "HTTP 503" in page.text
    again = await _post(client, csrf, f"/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", {})
    assert again.status_code == 303
    page = await client.get(again.headers["location"])
    assert "Queued again" in page.text
    async with database.read_session() as session:
        deliveries = (
            await session.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
        ).all()
    assert len(deliveries) == 2


async def test_a_dead_job_is_listed_with_its_error_and_retried(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    async with database.write_session() as session:
        job = await jobs_service.enqueue(
            session, "email.send", {"to": "x@facility.example", "subject": "s", "body": "b"}, tenant_id=admin.tenant_id
        )
        job.state = JobState.DEAD
        job.attempts = job.max_attempts
        job.last_error = "SMTPConnectError: mail server refused"
        job.finished_at = utcnow()
        job_id = job.id
    csrf = await _sign_in(client, admin)
    page = await client.get("/admin/jobs")
    assert "SMTPConnectError: mail server refused" in page.text
    retried = await _post(client, csrf, f"/admin/jobs/{job_id}/retry", {})
    assert retried.status_code == 303
    assert "back on the queue" in (await client.get(retried.headers["location"])).text
    async with database.read_session() as session:
        stored = await session.get(Job, job_id)
        trail = await session.scalar(select(AuditEntry).where(AuditEntry.entity_id == job_id))
    assert stored is not None
    assert stored.state != JobState.DEAD
    assert trail is not None
    assert trail.action == "job.retried"
    # The trail names the person, never their address (kept forever, so kept free of e-mails).
    assert trail.actor_display == admin.actor.display
    assert admin.email not in trail.actor_display


async def test_a_stale_settings_edit_is_refused_and_shows_the_current_settings(
    client: httpx.AsyncClient, admin: Member, database: Database
) -> None:
    csrf = await _sign_in(client, admin)
    opened = await client.get("/admin/settings")
    assert 'name="version" value="0"' in opened.text
    form = {
        "version": "0",
        "id_prefix": "SEQ",
        "billing_code_pattern": "",
        "signed_transitions": ["qc->library_prep"],
        "turnaround_normal": "72",
        "steps": "Receive; 1\nExtract; 4",
    }
    async with database.write_session() as session:
        current = await samples_service.read_settings(session, admin.tenant_id)
        await samples_service.update_settings(
            session,
            admin.actor,
            SettingsUpdate(billing_code_pattern=r"^[A-Z]{2}-\d{4}$"),
            make_etag(admin.tenant_id, current.version),
        )

    stale = await _post(client, csrf, "/admin/settings", form)
    assert stale.status_code == 409
    assert "Someone changed these settings after you opened them" in stale.text
    assert "^[A-Z]{2}-\\d{4}$" in stale.text
    async with database.read_session() as session:
        kept = await samples_service.read_settings(session, admin.tenant_id)
    assert kept.billing_code_pattern == r"^[A-Z]{2}-\d{4}$"
    assert kept.turnaround_hours["normal"] != 72

    fresh = await _post(client, csrf, "/admin/settings", {**form, "version": str(kept.version)})
    assert fresh.status_code == 303
    async with database.read_session() as session:
        saved = await samples_service.read_settings(session, admin.tenant_id)
    assert saved.turnaround_hours["normal"] == 72
    assert saved.signed_transitions == ["qc->library_prep"]
    assert [step["name"] for step in saved.step_template] == ["Receive", "Extract"]
    assert saved.billing_code_pattern is None


async def test_a_bad_setting_is_named_and_nothing_changes(client: httpx.AsyncClient, admin: Member) -> None:
    csrf = await _sign_in(client, admin)
    refused = await _post(
        client,
        csrf,
        "/admin/settings",
        {"version": "0", "id_prefix": "SEQ", "billing_code_pattern": "([", "steps": "Receive; 1"},
    )
    assert refused.status_code == 400
    assert "not a regular expression" in refused.text
    # What was typed stays in the form to be corrected.
    assert 'value="(["' in refused.text
    unchanged = await client.get("/api/v1/samples/settings")
    assert unchanged.json()["version"] == 0


async def test_forgot_password_answers_the_same_for_any_address(client: httpx.AsyncClient, admin: Member) -> None:
    form = await client.get("/forgot-password")
    assert form.status_code == 200
    known = await client.post("/forgot-password", data={"email": admin.email})
    unknown = await client.post("/forgot-password", data={"email": "nobody@facility.example"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(admin.email, "X") == unknown.text.replace("nobody@facility.example", "X")


async def test_a_used_or_unknown_reset_link_says_so_and_offers_a_new_one(client: httpx.AsyncClient) -> None:
    page = await client.get("/reset-password?token=not-a-real-token")
    assert page.status_code == 400
    assert "not valid" in page.text
    assert 'href="/forgot-password"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
