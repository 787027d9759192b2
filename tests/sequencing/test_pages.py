"""The sequencing pages in real Chromium: a pool refused for a clash, then planned and its sample sheet taken."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from seqtrack.identity.actor import Actor
from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.samples import service as samples_service
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.models import Sample
from seqtrack.samples.schemas import QcIn, QcKind
from seqtrack.sequencing import service
from seqtrack.sequencing.schemas import FlowCellIn, InstrumentIn
from tests.fixtures.browser import LiveServer, assert_accessible, screenshot, signed_in
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import new_sample

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


async def _released(database: Database, actor: Actor, name: str) -> Sample:
    """A sample received, QC-passed and released to library prep (as a system import of past history)."""
    sample = await new_sample(database, actor, name=name)
    system = Actor.system(actor.tenant_id)
    async with database.write_session() as session:
        for state in (SampleStatus.RECEIVED, SampleStatus.QC):
            await samples_service.move_as_system(session, system, sample.id, state, "received at the bench")
        await samples_service.record_qc(session, actor, sample.id, QcIn(kind=QcKind.A260_280, value=1.84))
        await samples_service.move_as_system(session, system, sample.id, SampleStatus.LIBRARY_PREP, "QC passed")
    return sample


async def test_build_a_pool_see_a_clash_refused_plan_a_run_and_download_its_sample_sheet(
    live_server: LiveServer, browser: Browser, database: Database, tmp_path: Path
) -> None:
    technician = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    first = await _released(database, technician.actor, "Klebsiella-ST258-1")
    second = await _released(database, technician.actor, "Klebsiella-ST258-2")
    async with database.write_session() as session:
        await service.register_instrument(session, technician.actor, InstrumentIn(name="GXB02001", model="gridion"))
        good = await service.receive_flow_cell(
            session, technician.actor, FlowCellIn(serial="FAX12345", product_code="FLO-MIN114")
        )
        await service.check_flow_cell(session, technician.actor, good.id, 1420, None)
        weak = await service.receive_flow_cell(
            session, technician.actor, FlowCellIn(serial="FAX54321", product_code="FLO-MIN114")
        )
        await service.check_flow_cell(session, technician.actor, weak.id, 512, None)

    bench = await signed_in(browser, live_server, technician)
    page = await bench.open("/sequencing/flow-cells")
    await expect(page.locator('tr[data-flow-cell="FAX54321"]')).to_contain_text("Below warranty (800)")
    await expect(page.locator('tr[data-flow-cell="FAX12345"]')).not_to_contain_text("Below warranty")
    await screenshot(page, "sequencing-flow-cells")
    await assert_accessible(page)

    await page.goto(f"{live_server.url}/sequencing/pools")
    await page.get_by_label("Pool name").fill("POOL-KPN-01")
    for row, (library, sample, barcode) in enumerate((("LIB-KPN-1", first, "NB05"), ("LIB-KPN-2", second, "NB05"))):
        await page.get_by_label(f"Library {row + 1} name").fill(library)
        await page.get_by_label(f"Library {row + 1} samples").select_option(str(sample.id))
        await page.get_by_label(f"Library {row + 1} kit").select_option("SQK-NBD114.24")
        await page.get_by_label(f"Library {row + 1} barcode").fill(barcode)
    await page.get_by_role("button", name="Save pool").click()
    await expect(page.locator("[data-pool-problems]")).to_contain_text("LIB-KPN-1 and LIB-KPN-2 both carry barcode05")
    await expect(page.get_by_role("table").last).to_contain_text("No pools yet")
    await assert_accessible(page)

    await page.get_by_label("Library 2 barcode").fill("NB06")
    await page.get_by_role("button", name="Check pool").click()
    await expect(page.locator("#pool-check")).to_contain_text("No clashes")
    await page.get_by_role("button", name="Save pool").click()
    await expect(page.get_by_role("status")).to_contain_text("Pool POOL-KPN-01 saved")
    await screenshot(page, "sequencing-pools")

    await page.goto(f"{live_server.url}/sequencing/runs")
    await page.get_by_label("Experiment ID").fill("RUN-2026-12-01-X2")
    await page.get_by_label("Position").fill("X2")
    await page.get_by_label("Flow cell (checked or washed)").select_option(label="FAX12345 · FLO-MIN114 · 1420 pores")
    await page.get_by_role("button", name="Plan run").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("RUN-2026-12-01-X2")
    await expect(page.locator("[data-run-state]")).to_have_text("Planned")
    await assert_accessible(page)

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Download MinKNOW sample sheet").click()
    download = await downloading.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert download.suggested_filename == "RUN-2026-12-01-X2_sample_sheet.csv"
    assert {(row["alias"], row["barcode"]) for row in rows} == {
        (first.human_id, "barcode05"),
        (second.human_id, "barcode06"),
    }
    assert {row["flow_cell_id"] for row in rows} == {"FAX12345"}

    # Starting the run is the signed sequencing release of its samples.
    await page.get_by_label("Running").check()
    await page.get_by_label("Meaning").select_option("released")
    await page.get_by_label("Your password").fill(technician.password)
    await page.get_by_role("button", name="Move run").click()
    await expect(page.locator("[data-run-state]")).to_have_text("Running")
    await screenshot(page, "sequencing-run")
    await page.goto(f"{live_server.url}/samples/{first.id}")
    await expect(page.locator("[data-sample-state]")).to_have_text("Sequencing")
    await expect(page.locator("[data-sample-yield]")).to_contain_text("1 run")
    await expect(page.locator("#sample-sequencing")).to_contain_text("RUN-2026-12-01-X2")
    await assert_accessible(page)
