"""Admin and account-recovery journeys in real Chromium: API keys, forgotten passwords, lockouts."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, expect

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.browser import LiveServer, assert_accessible, screenshot, signed_in
from tests.fixtures.database import make_settings
from tests.fixtures.identity import make_member, make_tenant, new_password
from tests.fixtures.mail import link_in, wait_for_mail

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The webhook page is visited with an endpoint on this machine, refused by default.
    return make_settings(tmp_path / "data", database_url, webhook_allow_private_networks=True)


async def test_an_admin_creates_an_api_key_and_sees_its_secret_once(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    await make_member(database, tenant, Role.SUBMITTER, lab_names=["Okafor lab"])
    visitor = await signed_in(browser, live_server, admin)
    page = visitor.page

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Admin")
    await assert_accessible(page)
    await page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="Users and roles").click()
    await expect(page.get_by_role("table", name="Users of this facility")).to_contain_text(admin.email)
    await screenshot(page, "admin")
    await assert_accessible(page)

    await page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="API keys").click()
    await page.get_by_label("Name (what uses it)").fill("MinKNOW bridge")
    await page.get_by_label("samples:read").check()
    await page.get_by_label("samples:write").check()
    await page.get_by_role("button", name="Create key").click()

    secret_box = page.get_by_label("Key", exact=True)
    await expect(secret_box).to_have_value(re.compile(r"^stk_[0-9a-f]{12}_\S+$"))
    secret = await secret_box.input_value()
    prefix = secret.split("_")[1]
    await expect(page.get_by_role("status")).to_contain_text("the only time it is shown")
    await assert_accessible(page)

    async with httpx.AsyncClient(base_url=live_server.url) as api:
        works = await api.get("/api/v1/samples", headers={"Authorization": f"Bearer {secret}"})
    assert works.status_code == 200

    await page.reload()
    await expect(page.get_by_label("Key", exact=True)).to_have_count(0)
    keys = page.get_by_role("table", name="API keys")
    await expect(keys).to_contain_text(f"stk_{prefix}_…")
    await expect(keys).to_contain_text("MinKNOW bridge")
    assert secret not in await page.content()


async def test_every_admin_page_is_accessible(live_server: LiveServer, browser: Browser, database: Database) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    other = await make_member(database, tenant, Role.TECHNICIAN, lab_names=["Chen lab"])
    visitor = await signed_in(browser, live_server, admin)

    page = await visitor.open("/admin/labs")
    await page.get_by_label("Name", exact=True).fill("Ortiz lab")
    await page.get_by_role("button", name="Add lab").click()
    await expect(page.get_by_role("table", name="Labs of this facility")).to_contain_text("Ortiz lab")
    await assert_accessible(page)

    page = await visitor.open(f"/admin/users/{other.user_id}")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(other.email)
    await assert_accessible(page)

    page = await visitor.open("/admin/webhooks")
    await page.get_by_label("Address (https://…)").fill("http://127.0.0.1:9/hook")
    await page.get_by_role("button", name="Add webhook").click()
    await expect(page.get_by_label("Secret", exact=True)).to_have_value(re.compile(r".{20,}"))
    await assert_accessible(page)
    await page.get_by_role("link", name="http://127.0.0.1:9/hook").click()
    await expect(page.get_by_role("table", name="Deliveries, newest first")).to_be_visible()
    await assert_accessible(page)

    page = await visitor.open("/admin/jobs")
    await expect(page.get_by_role("table", name="Jobs that gave up")).to_contain_text("No dead jobs")
    await assert_accessible(page)

    page = await visitor.open("/admin/settings")
    await page.get_by_label("Normal").fill("96")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved.")
    await expect(page.get_by_label("Normal")).to_have_value("96")
    await assert_accessible(page)


async def test_a_forgotten_password_is_replaced_through_the_emailed_link(
    live_server: LiveServer, browser: Browser, database: Database, settings: Settings
) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    context = await browser.new_context(base_url=live_server.url)
    page = await context.new_page()
    await page.goto(f"{live_server.url}/sign-in")
    await page.get_by_role("link", name="Forgot your password?").click()
    await assert_accessible(page)
    await page.get_by_label("E-mail").fill(member.email)
    await page.get_by_role("button", name="Send me a link").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "an e-mail with a link to set a new password is on its way"
    )

    link = link_in(await wait_for_mail(settings, member.email))
    assert link.startswith(f"{settings.site_url}/reset-password?token=")
    # The e-mail points at the configured public address; this test's server listens elsewhere.
    parts = urlsplit(link)
    await page.goto(f"{live_server.url}{parts.path}?{parts.query}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Set a new password")
    await assert_accessible(page)
    chosen = new_password()
    await page.get_by_label("New password", exact=True).fill(chosen)
    await page.get_by_label("Repeat the new password").fill(chosen)
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("status")).to_contain_text("Your new password is set")

    await page.get_by_label("E-mail").fill(member.email)
    await page.get_by_label("Password").fill(chosen)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/sign-in" not in url)
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()

    # The link worked once: opened again, it says so.
    await page.goto(f"{live_server.url}{parts.path}?{parts.query}")
    await expect(page.get_by_role("alert")).to_contain_text("not valid")
    await context.close()


async def test_an_admin_unlocks_a_locked_account_and_the_person_signs_in(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    locked = await make_member(database, tenant, Role.TECHNICIAN)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as api:
        for _ in range(5):
            await api.post("/api/v1/auth/token", json={"email": locked.email, "password": new_password()})
        assert (
            await api.post("/api/v1/auth/token", json={"email": locked.email, "password": locked.password})
        ).status_code == 401

    visitor = await signed_in(browser, live_server, admin)
    page = await visitor.open("/admin/users")
    row = page.locator(f'tr[data-user-id="{locked.user_id}"]')
    await expect(row).to_contain_text("locked")
    await row.get_by_role("link", name=locked.email).click()
    await page.get_by_role("button", name="Unlock account").click()
    await expect(page.get_by_role("status")).to_contain_text("The account is unlocked")
    await expect(page.get_by_role("button", name="Unlock account")).to_have_count(0)
    await assert_accessible(page)

    person = await signed_in(browser, live_server, locked)
    await expect(person.page.get_by_role("navigation", name="Main")).to_be_visible()
