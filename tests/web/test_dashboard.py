"""A manager reads the dashboard in real Chromium: the figures of a known facility, its CSV, and live updates."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from seqtrack.platform.database import Database
from seqtrack.samples import service
from seqtrack.samples.lifecycle import SampleStatus
from tests.fixtures.browser import LiveServer, assert_accessible, screenshot, signed_in
from tests.fixtures.reports import seed_reporting_facility

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


async def test_a_manager_reads_the_dashboard_and_downloads_its_csv(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    manager = await signed_in(browser, live_server, facility.manager, accept_downloads=True)
    page = await manager.open("/")
    await expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    await expect(page.locator('[data-figure="total"]')).to_have_text("11")
    await expect(page.locator('[data-figure="overdue"]')).to_have_text("2")
    await expect(page.get_by_text("of 5 open samples are past their turnaround target")).to_be_visible()
    await expect(page.locator('[data-figure="delivered"]')).to_have_text("5")
    await expect(page.locator('[data-figure="received"]')).to_have_text("5")
    await expect(page.locator('[data-figure="qc-failure-rate"]')).to_have_text("50 %")
    await expect(page.get_by_role("img", name="Samples in each state")).to_be_visible()

    # The table behind the turnaround chart opens on demand.
    turnaround = page.locator('[data-report="turnaround"]')
    table = turnaround.get_by_role("table")
    await expect(table).to_be_hidden()
    await turnaround.get_by_text("Table: median turnaround").click()
    await expect(table.get_by_role("row", name="Priority: Urgent")).to_contain_text("220 h (9.2 d)")
    await expect(table.get_by_role("row", name="Type: Genomic DNA")).to_contain_text("310 h (12.9 d)")
    await screenshot(page, "dashboard")
    await assert_accessible(page)

    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Download CSV of samples by state").click()
    download = await waiting.value
    assert download.suggested_filename.startswith("samples-by-state-")
    rows = list(csv.reader(io.StringIO(Path(await download.path()).read_text())))
    assert rows[0] == ["state", "samples"]
    assert dict(rows[1:])["delivered"] == "5"
    assert dict(rows[1:])["submitted"] == "1"

    # A technician receives the one submitted sample: the dashboard follows without a reload.
    async with database.write_session() as session:
        await service.transition(
            session,
            facility.technician.actor,
            facility.samples["O4"],
            SampleStatus.RECEIVED,
            reason=None,
            signature=None,
        )
    await expect(page.locator('[data-figure="received"]')).to_have_text("6", timeout=15_000)
    await expect(page.locator("[data-live-banner]")).to_contain_text("moved to received")
    # The refresh kept the table the manager had opened, and the focus on the link they used.
    await expect(table).to_be_visible()
    await expect(page.get_by_role("link", name="Download CSV of samples by state")).to_be_focused()

    # A bulk hold of three samples is three events; the dashboard asks for itself once for the burst
    # (twice at worst, should the relay publish them far apart), never once per event.
    refreshes: list[str] = []
    page.on("request", lambda request: refreshes.append(request.url) if request.headers.get("hx-request") else None)
    held = [facility.samples[name] for name in ("O1", "O2", "O5")]
    async with database.write_session() as session:
        await service.bulk_transition(
            session,
            facility.technician.actor,
            held,
            SampleStatus.ON_HOLD,
            reason="Flow cells back-ordered",
            signature=None,
        )
    await expect(page.locator("#chart-states-desc")).to_contain_text("On hold: 4", timeout=15_000)
    await page.wait_for_timeout(1_000)
    assert 1 <= len(refreshes) < len(held), refreshes
    assert set(refreshes) == {f"{live_server.url}/"}


async def test_a_submitter_sees_their_labs_figures_only(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    submitter = await signed_in(browser, live_server, facility.submitter)
    page = await submitter.open("/")
    await expect(page.get_by_text("Your labs' samples")).to_be_visible()
    await expect(page.locator('[data-figure="total"]')).to_have_text("3")
    await expect(page.locator('[data-figure="overdue"]')).to_have_text("1")
    await assert_accessible(page)
