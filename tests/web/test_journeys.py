"""Journeys through the pages in real Chromium, as the people at a facility take them."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.platform.etag import make_etag
from seqtrack.samples import service
from seqtrack.samples.schemas import SettingsUpdate
from tests.fixtures.browser import (
    LiveServer,
    assert_accessible,
    block_other_hosts,
    screenshot,
    signed_in,
)
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import new_sample

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


async def _sign_receipts(database: Database, manager_actor: object) -> None:
    """This facility signs the receipt of a sample (the default signs later moves)."""
    async with database.write_session() as session:
        current = await service.read_settings(session, manager_actor.tenant_id)  # type: ignore[attr-defined]
        await service.update_settings(
            session,
            manager_actor,  # type: ignore[arg-type]
            SettingsUpdate(signed_transitions=["submitted->received"]),
            make_etag(current.tenant_id, current.version),
        )


async def _scanner_types(page: Page, code: str) -> None:
    """A keyboard-wedge scanner's burst: every key and Enter arrive together, as the scanner sends them.

    Playwright's ``keyboard.type`` sends one key per round trip to the browser; on a busy machine
    those land more than the page's 80 ms apart, and a person's typing is exactly what that looks like.
    """
    await page.evaluate(
        """code => {
            for (const key of [...code, "Enter"]) {
                document.activeElement.dispatchEvent(
                    new KeyboardEvent("keydown", {key, bubbles: true, cancelable: true}));
            }
        }""",
        code,
    )


async def test_scan_open_sign_and_see_it_live(live_server: LiveServer, browser: Browser, database: Database) -> None:
    tenant = await make_tenant(database)
    manager = await make_member(database, tenant, Role.MANAGER)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    await _sign_receipts(database, manager.actor)
    sample = await new_sample(database, technician.actor, barcode="TUBE-000417", name="Soil-metagenome-7")
    other = await new_sample(database, technician.actor, name="Ecoli-K12-02")

    bench = await signed_in(browser, live_server, technician)
    watcher = await signed_in(browser, live_server, manager)
    await watcher.open("/samples")
    await expect(watcher.page.get_by_role("link", name=sample.human_id)).to_be_visible()
    await screenshot(watcher.page, "samples-list")
    await assert_accessible(watcher.page)

    # A keyboard-wedge scanner types the barcode fast, then Enter, wherever the focus is.
    page = await bench.open("/samples")
    await page.locator("h1").click()
    await _scanner_types(page, "TUBE-000417")
    await page.wait_for_url(f"**/samples/{sample.id}")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(sample.human_id)

    # Receipt is signed here: without the password it is refused and nothing moves.
    await page.get_by_label("Received").check()
    await page.get_by_role("button", name="Move", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("electronic signature")
    await expect(page.locator("[data-sample-state]")).to_have_text("Submitted")

    await page.get_by_label("Received").check()
    await page.get_by_label("Meaning").select_option("reviewed")
    await page.get_by_label("Your password").fill(technician.password)
    await page.get_by_role("button", name="Move", exact=True).click()
    await expect(page.locator("[data-sample-state]")).to_have_text("Received")
    await expect(page.locator(".timeline")).to_contain_text("Submitted → Received")
    await screenshot(page, "sample-detail")
    await assert_accessible(page)

    # The manager's list updated itself, with a banner saying what happened and who did it.
    await expect(watcher.page.locator("[data-live-banner]")).to_contain_text(f"{sample.human_id} moved to received")
    row = watcher.page.locator(f'tr[data-sample-id="{sample.id}"]')
    await expect(row.locator(".state")).to_have_text("Received")
    await expect(watcher.page.locator(f'tr[data-sample-id="{other.id}"] .state')).to_have_text("Submitted")


async def test_a_stale_edit_shows_what_changed_and_overwrites_nothing(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    sample = await new_sample(database, technician.actor, project="PRJ-SOIL")
    visitor = await signed_in(browser, live_server, technician)
    first = await visitor.open(f"/samples/{sample.id}")
    second = await visitor.context.new_page()
    await second.goto(f"{live_server.url}/samples/{sample.id}")

    # Someone starts typing in the first tab; meanwhile the second saves another project.
    await first.get_by_label("Project").fill("PRJ-MINE")
    await second.get_by_label("Project").fill("PRJ-SOIL-2")
    await second.get_by_role("button", name="Save changes").click()
    await expect(second.get_by_label("Project")).to_have_value("PRJ-SOIL-2")
    # The first tab hears of it live, and leaves the field being typed in alone.
    await expect(first.locator("[data-live-banner]")).to_contain_text("Parts you are editing were left as they are")
    await expect(first.get_by_label("Project")).to_have_value("PRJ-MINE")

    await first.get_by_role("button", name="Save changes").click()
    await expect(first.get_by_role("alert")).to_contain_text("Someone changed this sample after you opened it")
    conflict = first.get_by_role("table", name="What changed since you opened the sample")
    await expect(conflict).to_contain_text("PRJ-SOIL-2")
    await expect(conflict).to_contain_text("PRJ-MINE")
    await second.reload()
    await expect(second.get_by_label("Project")).to_have_value("PRJ-SOIL-2")


async def test_a_submitter_sees_only_their_labs_samples(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    submitter = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Okafor lab"])
    (own_lab,) = submitter.lab_ids
    mine = await new_sample(database, technician.actor, lab_id=own_lab, name="Okafor-gut-01")
    theirs = await new_sample(database, technician.actor, name="Someone-else-01")

    # On a 10-inch tablet held upright: nothing spills sideways off the page.
    visitor = await signed_in(browser, live_server, submitter, viewport={"width": 800, "height": 1280})
    page = await visitor.open("/samples")
    assert await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    table = page.locator("#samples-table")
    await expect(table.get_by_role("link", name=mine.human_id)).to_be_visible()
    await expect(table).not_to_contain_text(theirs.human_id)
    await expect(table.get_by_role("columnheader", name="Current step")).to_be_visible()
    await expect(table.get_by_role("columnheader", name="Expected by")).to_be_visible()
    await screenshot(page, "submitter-view")
    await assert_accessible(page)

    response = await page.goto(f"{live_server.url}/samples/{theirs.id}")
    assert response is not None
    assert response.status == 404


async def test_sign_in_page_and_api_docs_work_with_the_network_unplugged(
    live_server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context()
    leaving = await block_other_hosts(context)
    page = await context.new_page()
    await page.goto(f"{live_server.url}/sign-in")
    await screenshot(page, "sign-in")
    await assert_accessible(page)

    await page.goto(f"{live_server.url}/docs")
    await expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
    await expect(page.get_by_text("/api/v1/samples/by-code/{code}")).to_be_visible()
    await page.goto(f"{live_server.url}/redoc")
    # ReDoc lays out the whole API before it shows it: slow on a busy machine.
    await expect(page.get_by_text("Register a sample").first).to_be_attached(timeout=60_000)
    assert leaving == []


async def test_keyboard_only_sign_in_and_search(live_server: LiveServer, browser: Browser, database: Database) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    sample = await new_sample(database, technician.actor, barcode="TUBE-KB-01")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{live_server.url}/sign-in")

    # The e-mail field has focus on arrival; Tab reaches the password; Enter signs in.
    await page.keyboard.type(technician.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(technician.password)
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda url: "/sign-in" not in url)

    # The first Tab on a page reaches "Skip to content", and it is visible when focused.
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    assert (await skip.bounding_box() or {"x": -1})["x"] >= 0

    # "/" jumps to the scan box; a typed ID and Enter opens the sample.
    await page.keyboard.press("/")
    await expect(page.get_by_role("searchbox", name="Scan a barcode or search")).to_be_focused()
    await page.keyboard.type(sample.human_id)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/samples/{sample.id}")
