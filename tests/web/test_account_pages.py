"""Account pages and bulk work in real Chromium: facility switching, password change, bulk moves, export."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from playwright.async_api import Browser, expect

from seqtrack.identity import repository as identity_repository
from seqtrack.identity import service as identity_service
from seqtrack.identity.actor import Actor
from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.platform.etag import make_etag
from seqtrack.samples import service as samples_service
from seqtrack.samples.schemas import SampleUpdate
from tests.fixtures.browser import LiveServer, assert_accessible, signed_in
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import new_sample

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


async def test_a_person_in_two_facilities_switches_between_them(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    first = await make_tenant(database, "north-core")
    second = await make_tenant(database, "south-core")
    member = await make_member(database, first, Role.TECHNICIAN)
    async with database.write_session() as session:
        user = await identity_repository.user_by_email(session, member.email)
        assert user is not None
        await identity_service.grant_role(session, Actor.system(second), user, Role.MANAGER, tenant_id=second)
    north = await new_sample(database, member.actor, name="North-tube-1")

    visitor = await signed_in(browser, live_server, member, facility="north-core")
    page = await visitor.open("/facility")
    await assert_accessible(page)
    await expect(page.get_by_text("You are working in")).to_contain_text("north-core")
    await page.get_by_label("South-Core").check()
    await page.get_by_role("button", name="Switch facility").click()
    await page.goto(f"{live_server.url}/samples")
    await expect(page.locator("#samples-table")).not_to_contain_text(north.human_id)
    page = await visitor.open("/facility")
    await expect(page.get_by_text("You are working in")).to_contain_text("south-core")


async def test_a_wrong_current_password_is_explained_beside_the_field(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    visitor = await signed_in(browser, live_server, member)
    page = await visitor.open("/account/password")
    await assert_accessible(page)
    await page.get_by_label("Current password").fill("not-my-password")
    await page.get_by_label("New password").fill("a long enough new passphrase 42")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("alert")).to_contain_text("The current password is not right")
    await assert_accessible(page)

    await page.get_by_label("Current password").fill(member.password)
    await page.get_by_label("New password").fill("a long enough new passphrase 42")
    await page.get_by_role("button", name="Change password").click()
    # Every session ends with a password change: sign in again, with the new one.
    await expect(page.get_by_role("heading", name="Sign in to SeqTrack")).to_be_visible()
    await page.get_by_label("E-mail").fill(member.email)
    await page.get_by_label("Password").fill("a long enough new passphrase 42")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("status")).to_contain_text("Your password was changed")


async def test_a_technician_moves_a_selection_at_once_and_exports_the_list(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    technician = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    arrived = [await new_sample(database, technician.actor, name=f"Batch-7-{n}") for n in range(3)]
    visitor = await signed_in(browser, live_server, technician)
    page = await visitor.open("/samples")
    for sample in arrived[:2]:
        await page.get_by_label(f"Select {sample.human_id}").check()
    await page.get_by_label("To state").select_option("received")
    await page.get_by_role("button", name="Move selected").click()
    await expect(page.get_by_role("status").filter(has_text="moved")).to_contain_text("2 samples moved")
    states = [await page.locator(f'tr[data-sample-id="{s.id}"] .state').inner_text() for s in arrived]
    assert states == ["Received", "Received", "Submitted"]

    # A move that is not allowed for one of them moves none, and says which and why.
    await page.get_by_label("Select all on this page").check()
    await page.get_by_label("To state").select_option("qc")
    await page.get_by_role("button", name="Move selected").click()
    await expect(page.get_by_role("heading", name="Nothing was moved")).to_be_visible()
    await expect(page.get_by_role("table")).to_contain_text(arrived[2].human_id)
    await assert_accessible(page)

    page = await visitor.open("/samples?status=received")
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Export CSV").click()
    download = await waiting.value
    rows = list(csv.DictReader(io.StringIO((await download.path()).read_text(encoding="utf-8-sig"))))
    assert sorted(row["human_id"] for row in rows) == sorted(s.human_id for s in arrived[:2])


async def test_the_detail_page_shows_the_sample_as_it_was_and_its_audit_trail_old_to_new(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    auditor = await make_member(database, tenant, Role.AUDITOR)
    sample = await new_sample(database, technician.actor, project="PRJ-BEFORE")
    await asyncio.sleep(0.05)
    before_the_edit = datetime.now(UTC)
    await asyncio.sleep(0.05)
    async with database.write_session() as session:
        await samples_service.update_sample(
            session,
            technician.actor,
            sample.id,
            SampleUpdate(project="PRJ-AFTER"),
            make_etag(sample.id, sample.version),
        )

    visitor = await signed_in(browser, live_server, auditor)
    page = await visitor.open(f"/samples/{sample.id}?{urlencode({'as_of': before_the_edit.isoformat()})}")
    past = page.get_by_role("region", name="As it was on")
    await expect(past).to_contain_text("PRJ-BEFORE")
    await expect(page.get_by_role("region", name="Details")).to_contain_text("PRJ-AFTER")
    trail = page.get_by_role("region", name="Audit trail")
    await expect(trail).to_contain_text("PRJ-BEFORE → PRJ-AFTER")
    await assert_accessible(page)
