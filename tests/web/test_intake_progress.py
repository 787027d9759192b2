"""A large file in real Chromium: the page follows the background reading on the live feed, then shows the rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.browser import LiveServer, assert_accessible, signed_in
from tests.fixtures.database import make_settings
from tests.fixtures.identity import make_member, make_tenant
from tests.intake.test_background import big_csv
from tests.jobs.support import FAST

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]
ROWS = 12_000


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # Anything over a kilobyte is read by the background job, as a large file is.
    return make_settings(tmp_path / "data", database_url, intake_background_bytes=1024, **FAST)


async def test_the_upload_page_follows_a_large_file_being_read_and_then_shows_its_rows(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    visitor = await signed_in(browser, live_server, technician)
    page = await visitor.open("/submissions/new")
    # Dropped on the drop zone rather than chosen: the file input takes it.
    await page.evaluate(
        """(text) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], "big.csv", { type: "text/csv" }));
            const zone = document.querySelector("[data-dropzone]");
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        big_csv(ROWS).decode(),
    )
    assert await page.evaluate("document.getElementById('upload-file').files[0].name") == "big.csv"
    await page.get_by_role("button", name="Upload and check").click()
    await page.wait_for_url(re.compile(r"/submissions/[0-9a-f-]{36}$"))
    summary = page.locator("#submission-summary")
    await expect(summary.get_by_text("Reading the file")).to_be_visible()
    await assert_accessible(page)
    # Nobody reloads the page: the live feed moves it from the progress to the rows.
    await expect(summary).to_contain_text(f"{ROWS} rows", timeout=120_000)
    await expect(page.get_by_role("table", name="Rows of the submission")).to_be_visible(timeout=30_000)
    await assert_accessible(page)
    # Paged by row number, 100 at a time: never the whole file on one page.
    grid = page.locator("#rows")
    await expect(grid.locator("tbody tr")).to_have_count(100)
    await page.get_by_role("link", name="Next 100 rows").click()
    await expect(grid).to_contain_text("BG-000101")
    await expect(grid).not_to_contain_text("BG-000001")
    await expect(page).to_have_url(re.compile(r"after=101"))
