"""Intake journeys in real Chromium: a file fixed and committed; a submitter's order refused, fixed, committed."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, FilePayload, expect

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.platform.etag import make_etag
from seqtrack.samples import service as samples_service
from seqtrack.samples.schemas import SettingsUpdate
from tests.fixtures.browser import LiveServer, assert_accessible, screenshot, signed_in
from tests.fixtures.identity import make_member, make_tenant
from tests.intake.support import count_samples

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

# Row 3 has a concentration nobody can read; row 4's kit is a loose description a person must confirm;
# "Tube" holds the kind of tube, the barcodes are under "Label".
SHEET = (
    "Sample Name,Sample Type,Conc. (ng/µL),Volume (µL),Library Kit,Tube,Label\r\n"
    "Okafor-gut-01,HMW DNA,41.5,20,SQK-LSK114,screw cap,TB-OK-01\r\n"
    "Okafor-gut-02,HMW DNA,forty,20,SQK-LSK114,screw cap,TB-OK-02\r\n"
    "Okafor-gut-03,cDNA,12,15,ligation kit,screw cap,TB-OK-03\r\n"
)


async def _billing_codes_must_match(database: Database, manager_actor: object, pattern: str) -> None:
    async with database.write_session() as session:
        current = await samples_service.read_settings(session, manager_actor.tenant_id)  # type: ignore[attr-defined]
        await samples_service.update_settings(
            session,
            manager_actor,  # type: ignore[arg-type]
            SettingsUpdate(billing_code_pattern=pattern),
            make_etag(current.tenant_id, current.version),
        )


async def test_staff_upload_a_file_with_errors_remap_a_column_fix_a_cell_and_commit(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    visitor = await signed_in(browser, live_server, technician)
    page = await visitor.open("/")
    await page.get_by_role("link", name="Submissions").click()
    await expect(page.get_by_role("heading", name="Submissions", level=1)).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("link", name="Upload a file").click()
    await assert_accessible(page)
    await page.get_by_label("CSV, XLSX or a filled-in PDF form").set_input_files(
        files=FilePayload(name="okafor.csv", mimeType="text/csv", buffer=SHEET.encode())
    )
    await page.get_by_label("Project (optional").fill("Okafor gut")
    await page.get_by_role("button", name="Upload and check").click()
    await page.wait_for_url(re.compile(r"/submissions/[0-9a-f-]{36}$"))

    # Every row after the first repeats the "barcode" of row 2; row 3's concentration is unreadable.
    summary = page.locator("#submission-summary")
    await expect(summary).to_contain_text("3 errors")
    grid = page.get_by_role("table", name="Rows of the submission")
    await expect(grid).to_contain_text("same tube barcode as row 2")
    await expect(page.locator("#row-3 .cell-error").first).to_contain_text("forty")
    await assert_accessible(page)

    # The mapping says how "Tube" and "Label" were read; read the barcodes from "Label" instead.
    await page.get_by_label("Read column Tube as").select_option("")
    await page.get_by_label("Read column Label as").select_option("barcode")
    await page.get_by_role("button", name="Read the rows again with this mapping").click()
    await expect(summary).to_contain_text("1 error")
    await expect(summary).to_contain_text("1 reading to confirm")
    await expect(grid).not_to_contain_text("same tube barcode")
    await expect(page.locator("#row-4 .cell-unsure")).to_contain_text("confidence from “ligation kit”")
    await screenshot(page, "submissions-preview")

    # A second tab saves first: the stale edit is refused and overwrites nothing.
    other = await visitor.context.new_page()
    await other.goto(page.url)
    await other.get_by_label("Row 3, Volume (µL)").fill("18")
    await other.get_by_role("button", name="Save row 3").click()
    await expect(other.get_by_label("Row 3, Volume (µL)")).to_have_value("18")

    await page.get_by_label("Row 3, Conc. (ng/µL)").fill("40")
    await page.get_by_role("button", name="Save row 3").click()
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved in row 3")
    await expect(page.get_by_label("Row 3, Conc. (ng/µL)")).to_have_value("40")
    await assert_accessible(page)
    await page.get_by_role("button", name="Save row 3").click()
    await expect(summary).to_contain_text("0 errors")
    await page.get_by_label("Confirm library kit").check()
    await page.get_by_role("button", name="Save row 4").click()
    await expect(summary).to_contain_text("0 readings to confirm")
    await expect(summary.get_by_text("Validated")).to_be_visible()

    await page.get_by_role("button", name="Commit 3 samples").click()
    await expect(summary).to_contain_text("3 samples created")
    await assert_accessible(page)
    assert await count_samples(database) == 3
    await summary.get_by_role("link", name="See the samples").click()
    await expect(page.locator("#samples-table")).to_contain_text("Okafor-gut-02")


async def test_a_submitters_order_with_a_bad_billing_code_and_a_duplicate_barcode_is_fixed_then_committed(
    live_server: LiveServer, browser: Browser, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_member(database, tenant, Role.MANAGER)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    submitter = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Okafor lab"])
    await _billing_codes_must_match(database, manager.actor, r"NANO-\d{3}")

    visitor = await signed_in(browser, live_server, submitter)
    page = await visitor.open("/submissions")
    await page.get_by_role("link", name="Order form").click()
    await page.get_by_label("Lab").select_option(label="Okafor lab")
    await page.get_by_label("Project").fill("Gut survey")
    await page.get_by_label("Billing code").fill("nano42")
    samples = [("Gut-01", "T-100"), ("Gut-02", "T-100"), ("Gut-03", "T-102"), ("Gut-04", "T-103")]
    for index, (name, barcode) in enumerate(samples, start=1):
        if index > 3:
            # With scripts on, "More rows" adds a row here without a round trip.
            await page.get_by_role("button", name="More rows").click()
        await page.get_by_label(f"Sample {index} name").fill(name)
        await page.get_by_label(f"Sample {index} sample type").select_option("hmw_dna")
        await page.get_by_label(f"Sample {index} tube barcode").fill(barcode)
        await page.get_by_label(f"Sample {index} concentration (ng/µl)").fill("40,5")
    await page.get_by_role("button", name="Send the order").click()

    await expect(page.get_by_role("alert")).to_contain_text("nothing was submitted")
    billing = page.get_by_label("Billing code")
    await expect(billing).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#billing_code-error")).to_be_visible()
    await expect(page.locator("#barcode_1-error")).to_contain_text("same tube barcode as row 1")
    await expect(page.get_by_label("Sample 4 name")).to_have_value("Gut-04")
    await screenshot(page, "order-form")
    await assert_accessible(page)
    assert await count_samples(database) == 0

    await billing.fill("NANO-042")
    await page.get_by_label("Sample 2 tube barcode").fill("T-101")
    await page.get_by_role("button", name="Send the order").click()
    await expect(page.get_by_role("status").filter(has_text="Your order was sent")).to_be_visible()
    await expect(page.locator("[data-submission-state]")).to_have_text("Validated")
    await page.get_by_role("link", name="All submissions").click()
    await expect(page.get_by_role("link", name="Order form").last).to_be_visible()
    await assert_accessible(page)

    staff = await signed_in(browser, live_server, technician)
    review = await staff.open("/submissions")
    await review.get_by_role("table").get_by_role("link", name="Order form").click()
    await review.get_by_role("button", name="Commit 4 samples").click()
    await expect(review.locator("#submission-summary")).to_contain_text("4 samples created")
    assert await count_samples(database) == 4
