"""Browser sessions: HttpOnly SameSite cookie, and a CSRF token on every change."""

from __future__ import annotations

import httpx

from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.identity import make_member, make_tenant


async def _open(client: httpx.AsyncClient, database: Database) -> tuple[httpx.Response, str]:
    member = await make_member(database, await make_tenant(database), Role.ADMIN)
    response = await client.post("/api/v1/auth/session", json={"email": member.email, "password": member.password})
    assert response.status_code == 200
    return response, response.json()["csrf_token"]


async def test_the_session_cookie_is_httponly_and_samesite(client: httpx.AsyncClient, database: Database) -> None:
    response, _ = await _open(client, database)
    cookies = [value.lower() for value in response.headers.get_list("set-cookie")]
    session_cookie = next(value for value in cookies if value.startswith("seqtrack_session="))
    assert "httponly" in session_cookie
    assert "samesite=lax" in session_cookie
    assert "path=/" in session_cookie


async def test_over_tls_the_cookie_is_secure_and_host_prefixed(app: object, database: Database) -> None:
    import asgi_lifespan

    async with asgi_lifespan.LifespanManager(app) as manager:  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            response, csrf = await _open(client, database)
            cookies = [value.lower() for value in response.headers.get_list("set-cookie")]
            assert any(value.startswith("__host-seqtrack_session=") and "secure" in value for value in cookies)
            assert (await client.get("/api/v1/me")).status_code == 200
            assert (
                await client.post("/api/v1/labs", json={"name": "Plant Genomics"}, headers={"X-CSRF-Token": csrf})
            ).status_code == 201


async def test_reads_need_only_the_cookie(client: httpx.AsyncClient, database: Database) -> None:
    await _open(client, database)
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["role"] == "admin"


async def test_a_change_without_the_csrf_token_is_refused_and_with_it_goes_through(
    client: httpx.AsyncClient, database: Database
) -> None:
    _, csrf = await _open(client, database)
    missing = await client.post("/api/v1/labs", json={"name": "Virology"})
    assert missing.status_code == 403
    assert missing.json()["code"] == "auth.csrf_rejected"
    forged = await client.post("/api/v1/labs", json={"name": "Virology"}, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    accepted = await client.post("/api/v1/labs", json={"name": "Virology"}, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201


async def test_closing_the_session_ends_it(client: httpx.AsyncClient, database: Database) -> None:
    _, csrf = await _open(client, database)
    session_token = client.cookies.get("seqtrack_session")
    assert (await client.delete("/api/v1/auth/session", headers={"X-CSRF-Token": csrf})).status_code == 204
    assert session_token is not None
    client.cookies.set("seqtrack_session", session_token)
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_a_plain_html_form_may_carry_the_csrf_token_as_a_field(
    client: httpx.AsyncClient, database: Database
) -> None:
    _, csrf = await _open(client, database)
    without = await client.post("/api/v1/labs", data={"name": "Virology"})
    assert without.status_code == 403
    # The labs route takes JSON, so the form is then refused as input, no longer as a forgery.
    with_field = await client.post("/api/v1/labs", data={"name": "Virology", "csrf_token": csrf})
    assert with_field.status_code == 422
