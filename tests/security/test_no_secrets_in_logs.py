"""No log line or trace span carries a credential: every auth route is driven and the output searched."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager

from seqtrack.app import create_app
from seqtrack.platform import logging as platform_logging
from seqtrack.platform.database import Database
from seqtrack.platform.logging import configure_logging
from seqtrack.platform.permissions import Permission, Role
from seqtrack.settings import Settings
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.mail import link_in, wait_for_mail
from tests.fixtures.tracing import capture_spans

API = "/api/v1"


@pytest.mark.timeout(120)
async def test_every_auth_route_leaves_no_secret_in_logs_or_spans(settings: Settings, database: Database) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    member = await make_member(database, tenant, Role.TECHNICIAN)
    spans = capture_spans()
    app = create_app(settings.model_copy(update={"log_level": "DEBUG", "tracing_exporter": "none"}))
    logs = io.StringIO()
    configure_logging(json_logs=True, level="DEBUG", stream=logs)

    @app.get(f"{API}/crash-with-credentials")
    async def crash() -> None:
        raise RuntimeError("a crash while credentials are in the request")

    secrets: dict[str, str] = {"admin password": admin.password, "member password": member.password}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:

        async def log_in(email: str, password: str) -> dict[str, str]:
            answer = await http.post(f"{API}/auth/token", json={"email": email, "password": password})
            assert answer.status_code == 200, answer.text
            tokens: dict[str, str] = answer.json()
            return tokens

        wrong = "Not-the-password-7781!"
        secrets["wrong password"] = wrong
        assert (
            await http.post(f"{API}/auth/token", json={"email": member.email, "password": wrong})
        ).status_code == 401

        tokens = await log_in(member.email, member.password)
        secrets["access token"], secrets["refresh token"] = tokens["access_token"], tokens["refresh_token"]
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await http.get(f"{API}/me", headers=bearer)).status_code == 200
        refreshed = (await http.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
        secrets["refreshed access token"] = refreshed["access_token"]
        secrets["refreshed refresh token"] = refreshed["refresh_token"]
        await http.get(
            f"{API}/crash-with-credentials", headers={"Authorization": f"Bearer {refreshed['access_token']}"}
        )
        assert (
            await http.post(f"{API}/auth/logout", json={"refresh_token": refreshed["refresh_token"]})
        ).status_code == 204

        opened = await http.post(f"{API}/auth/session", json={"email": member.email, "password": member.password})
        assert opened.status_code == 200, opened.text
        secrets["csrf token"] = opened.json()["csrf_token"]
        for name, value in opened.cookies.items():
            secrets[f"cookie {name}"] = value
        cookie_header = "; ".join(f"{name}={value}" for name, value in opened.cookies.items())
        with_cookie = {"Cookie": cookie_header, "X-CSRF-Token": opened.json()["csrf_token"]}
        assert (await http.get(f"{API}/me", headers=with_cookie)).status_code == 200
        await http.get(f"{API}/crash-with-credentials", headers=with_cookie)
        assert (await http.delete(f"{API}/auth/session", headers=with_cookie)).status_code == 204
        http.cookies.clear()

        as_admin = {"Authorization": f"Bearer {(await log_in(admin.email, admin.password))['access_token']}"}
        created = await http.post(
            f"{API}/api-keys", json={"name": "sequencer", "permissions": [Permission.SAMPLES_READ]}, headers=as_admin
        )
        assert created.status_code == 201, created.text
        secrets["api key"] = created.json()["key"]
        assert (
            await http.get(f"{API}/me", headers={"Authorization": f"Bearer {secrets['api key']}"})
        ).status_code == 200
        assert (
            await http.get(f"{API}/me", headers={"Authorization": f"Bearer {secrets['api key']}x"})
        ).status_code == 401

        changed = "lab-bench-freezer-seventeen"
        secrets["new password"] = changed
        as_member = {"Authorization": f"Bearer {(await log_in(member.email, member.password))['access_token']}"}
        moved = await http.post(
            f"{API}/me/password",
            json={"current_password": member.password, "new_password": changed},
            headers=as_member,
        )
        assert moved.status_code == 204, moved.text

        assert (await http.post(f"{API}/auth/password-reset", json={"email": member.email})).status_code == 202
        link = link_in(await wait_for_mail(settings, member.email))
        secrets["reset token"] = parse_qs(urlsplit(link).query)["token"][0]
        after_reset = "gel-imager-on-the-third-floor"
        secrets["password set by reset"] = after_reset
        confirmed = await http.post(
            f"{API}/auth/password-reset/confirm", json={"token": secrets["reset token"], "new_password": after_reset}
        )
        assert confirmed.status_code == 204, confirmed.text

    platform_logging.flush()
    written = logs.getvalue()
    assert '"request"' in written
    assert "unhandled exception" in written
    traced = json.dumps(
        [
            {"name": span.name, "attributes": dict(span.attributes or {}), "events": [e.name for e in span.events]}
            for span in spans.get_finished_spans()
        ],
        default=str,
    )
    assert "auth/token" in traced
    leaked = {name for name, value in secrets.items() if value in written or value in traced}
    assert not leaked, f"secrets found in logs or spans: {sorted(leaked)}"
