"""A technician at the freezer, in real Chromium: find the box, place a tube by two scans, move it."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from tests.fixtures.browser import LiveServer, assert_accessible, screenshot, signed_in
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import new_sample
from tests.fixtures.storage import make_freezer

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


async def test_place_a_tube_by_two_scans_then_move_it_with_a_reason(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    freezer = await make_freezer(database, technician.actor, rows=10, columns=10)
    box, box_code = freezer.box_ids[0], freezer.box_codes[0]
    tube = await new_sample(database, technician.actor, barcode="TUBE-000731", name="Maize-leaf-3")

    bench = await signed_in(browser, live_server, technician)
    page = await bench.open("/storage")
    await expect(page.get_by_role("link", name="Box 1")).to_be_visible()
    await expect(page.locator(".tree")).to_contain_text("0 stored · 100 free of 100")
    await assert_accessible(page)

    await page.get_by_role("link", name="Box 1").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Box 1")
    # Two scans with a keyboard-wedge scanner: the tube, then the position's label.
    await page.get_by_label("Scan a tube").click()
    await page.keyboard.type("TUBE-000731")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text(f"Tube {tube.human_id}")).to_be_visible()
    await page.keyboard.type(f"{box_code}-C5")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Placed in C5.")
    await expect(page.locator('td[data-position="C5"]')).to_contain_text(tube.human_id)
    await expect(page.locator('td[data-position="C5"]')).to_have_attribute("aria-current", "location")
    await assert_accessible(page)
    await screenshot(page, "storage-box")

    # Moving needs a reason; a click on a free position is enough for where.
    await page.get_by_role("link", name=f"Move {tube.human_id}").click()
    await page.get_by_label("Reason").fill("box re-sorted by project")
    await page.get_by_role("button", name="D7 free").click()
    await expect(page.get_by_role("status")).to_have_text("Moved in D7.")
    await expect(page.locator('td[data-position="D7"]')).to_contain_text(tube.human_id)
    await expect(page.locator('td[data-position="C5"]')).to_contain_text("free")

    # A position label scanned into the global scan box opens the grid with it highlighted.
    await page.get_by_label("Scan a barcode or search").fill(f"{box_code}-D7")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/storage/boxes/{box}?highlight=D7")
    await expect(page.locator('td[data-position="D7"]')).to_have_attribute("aria-current", "location")

    # The tube's own page says where it is and how it got there.
    page = await bench.open(f"/samples/{tube.id}")
    await expect(page.locator("[data-sample-location]")).to_contain_text("Rack 1 › Box 1 › D7")
    await expect(page.locator("#sample-storage")).to_contain_text("box re-sorted by project")
    await assert_accessible(page)

    custody = await bench.context.request.get(f"{bench.base_url}/api/v1/storage/samples/{tube.id}/custody")
    entries = (await custody.json())["entries"]
    assert [(entry["to_location"]["position"], entry["reason"]) for entry in entries] == [
        ("C5", None),
        ("D7", "box re-sorted by project"),
    ]


async def test_a_taken_position_is_refused_on_the_page_and_nothing_moves(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    freezer = await make_freezer(database, technician.actor, rows=2, columns=2)
    box = freezer.box_ids[0]
    first = await new_sample(database, technician.actor, barcode="TUBE-1")
    second = await new_sample(database, technician.actor, barcode="TUBE-2")
    bench = await signed_in(browser, live_server, technician)
    page = await bench.open(f"/storage/boxes/{box}?tube=TUBE-1")
    await page.get_by_role("textbox", name="Position").fill("A1")
    await page.get_by_role("button", name="Place").click()
    await expect(page.locator('td[data-position="A1"]')).to_contain_text(first.human_id)
    page = await bench.open(f"/storage/boxes/{box}?tube=TUBE-2")
    await page.get_by_role("textbox", name="Position").fill("A1")
    await page.get_by_role("button", name="Place").click()
    await expect(page.get_by_role("alert")).to_contain_text("A1 is taken")
    await expect(page.locator('td[data-position="A1"]')).to_contain_text(first.human_id)
    assert second.human_id not in await page.locator("table.grid").inner_text()
