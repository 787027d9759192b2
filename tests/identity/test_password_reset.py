"""Forgot password: an e-mailed link that works once and for a short while; an admin lifting a lockout."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from seqtrack.app import create_app
from seqtrack.audit.models import AuditEntry
from seqtrack.events.models import EventRecord
from seqtrack.identity.models import PasswordReset, User
from seqtrack.identity.permissions import Role
from seqtrack.jobs.models import Job
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings
from tests.fixtures.database import make_settings
from tests.fixtures.http import asgi_client
from tests.fixtures.identity import Member, make_member, make_tenant, new_password
from tests.fixtures.mail import link_in, mails_to, wait_for_mail


@pytest.fixture
async def member(database: Database) -> Member:
    return await make_member(database, await make_tenant(database), Role.TECHNICIAN)


async def _log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"email": email, "password": password})


async def _bearer(client: httpx.AsyncClient, member: Member) -> dict[str, str]:
    token = (await _log_in(client, member.email, member.password)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def _ask(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/v1/auth/password-reset", json={"email": email})


async def _actions(database: Database, member: Member) -> list[str]:
    async with database.read_session() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == member.user_id).order_by(AuditEntry.sequence)
        )
        return list(rows.all())


async def test_the_emailed_link_sets_a_new_password_once_and_ends_every_login(
    client: httpx.AsyncClient, member: Member, settings: Settings, database: Database
) -> None:
    old_login = (await _log_in(client, member.email, member.password)).json()
    asked = await _ask(client, member.email)
    assert asked.status_code == 202

    link = link_in(await wait_for_mail(settings, member.email))
    assert link.startswith(f"{settings.site_url}/reset-password?token=")
    token = _token_of(link)
    chosen = new_password()
    confirmed = await client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": chosen})
    assert confirmed.status_code == 204

    assert (await _log_in(client, member.email, chosen)).status_code == 200
    assert (await _log_in(client, member.email, member.password)).status_code == 401
    # The log-in made before the reset is over, refresh token and all.
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": old_login["refresh_token"]})
    assert refreshed.status_code == 401

    again = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password()}
    )
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "token"
    assert (await _log_in(client, member.email, chosen)).status_code == 200
    actions = await _actions(database, member)
    assert actions.count("user.password_reset_requested") == 1
    assert actions.count("user.password_reset") == 1


async def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    client: httpx.AsyncClient, member: Member, settings: Settings
) -> None:
    known = await _ask(client, member.email)
    unknown = await _ask(client, "nobody-" + member.email)
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert "If an account uses this e-mail" in known.json()["detail"]
    await wait_for_mail(settings, member.email)
    assert mails_to(settings, "nobody-" + member.email) == []


async def test_an_expired_link_is_refused_and_the_password_stays(
    client: httpx.AsyncClient, member: Member, settings: Settings, database: Database
) -> None:
    await _ask(client, member.email)
    token = _token_of(link_in(await wait_for_mail(settings, member.email)))
    async with database.write_session() as session:
        reset = await session.scalar(select(PasswordReset).where(PasswordReset.user_id == member.user_id))
        assert reset is not None
        reset.expires_at = utcnow() - timedelta(seconds=1)

    refused = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password()}
    )
    assert refused.status_code == 422
    assert "expired" in refused.json()["detail"]
    assert (await _log_in(client, member.email, member.password)).status_code == 200


async def test_a_newer_link_replaces_the_older_one(
    client: httpx.AsyncClient, member: Member, settings: Settings
) -> None:
    await _ask(client, member.email)
    first = _token_of(link_in(await wait_for_mail(settings, member.email)))
    await _ask(client, member.email)
    second = _token_of(link_in(await wait_for_mail(settings, member.email, count=2)))
    assert first != second

    stale = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": first, "new_password": new_password()}
    )
    assert stale.status_code == 422
    chosen = new_password()
    fresh = await client.post("/api/v1/auth/password-reset/confirm", json={"token": second, "new_password": chosen})
    assert fresh.status_code == 204
    assert (await _log_in(client, member.email, chosen)).status_code == 200


async def test_the_new_password_follows_the_password_rules(
    client: httpx.AsyncClient, member: Member, settings: Settings
) -> None:
    await _ask(client, member.email)
    token = _token_of(link_in(await wait_for_mail(settings, member.email)))
    weak = await client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"})
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "new_password"
    # A refused password does not spend the link.
    chosen = new_password()
    ok = await client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": chosen})
    assert ok.status_code == 204


async def test_the_token_is_never_logged_nor_stored(
    client: httpx.AsyncClient, member: Member, settings: Settings, database: Database
) -> None:
    with capture_logs() as logged:
        await _ask(client, member.email)
        token = _token_of(link_in(await wait_for_mail(settings, member.email)))
        page = await client.get(f"/reset-password?token={token}")
        assert page.status_code == 200
        confirmed = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password()}
        )
        assert confirmed.status_code == 204
    assert logged, "the flow logged nothing at all: the capture did not work"
    assert token not in json.dumps(logged, default=str)

    async with database.read_session() as session:
        stored = [
            *(json.dumps(row.data, default=str) for row in (await session.scalars(select(EventRecord))).all()),
            *(
                json.dumps([row.changes, row.reason], default=str)
                for row in (await session.scalars(select(AuditEntry))).all()
            ),
            *(json.dumps(row.args, default=str) for row in (await session.scalars(select(Job))).all()),
            *(row.token_hash for row in (await session.scalars(select(PasswordReset))).all()),
        ]
    assert stored
    assert not [text for text in stored if token in text]


@pytest.fixture
async def limited_client(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path / "limited", database_url, login_rate_limit_per_account="2/minute")
    async with asgi_client(create_app(settings)) as http:
        yield http


async def test_asking_for_links_counts_against_the_login_rate_limit(limited_client: httpx.AsyncClient) -> None:
    email = "someone@facility.example"
    assert (await _ask(limited_client, email)).status_code == 202
    assert (await _ask(limited_client, email)).status_code == 202
    third = await _ask(limited_client, email)
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) >= 1


async def test_an_admin_unlocks_a_locked_account_and_the_trail_says_who(
    client: httpx.AsyncClient, member: Member, database: Database
) -> None:
    admin = await make_member(database, member.tenant_id, Role.ADMIN)
    for _ in range(5):
        await _log_in(client, member.email, new_password())
    assert (await _log_in(client, member.email, member.password)).status_code == 401
    headers = await _bearer(client, admin)
    assert (await client.get(f"/api/v1/users/{member.user_id}", headers=headers)).json()["locked"] is True

    unlocked = await client.post(f"/api/v1/users/{member.user_id}/unlock", headers=headers)
    assert unlocked.status_code == 200
    assert unlocked.json()["locked"] is False
    assert (await _log_in(client, member.email, member.password)).status_code == 200
    async with database.read_session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.entity_id == member.user_id, AuditEntry.action == "user.unlocked")
        )
        user = await session.get(User, member.user_id)
    assert entry is not None
    assert entry.actor_display == admin.email
    assert user is not None
    assert user.locked_until is None


async def test_only_a_user_manager_may_unlock(client: httpx.AsyncClient, member: Member, database: Database) -> None:
    manager = await make_member(database, member.tenant_id, Role.MANAGER)
    refused = await client.post(f"/api/v1/users/{member.user_id}/unlock", headers=await _bearer(client, manager))
    assert refused.status_code == 403
