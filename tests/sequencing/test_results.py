"""Run results: MinKNOW's summaries read back into per-run and per-barcode figures attached to samples."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.identity import Member
from tests.fixtures.sequencing import (
    FINAL_SUMMARY,
    SAMPLES,
    SEQ,
    SEQUENCING_SUMMARY,
    checked_flow_cell,
    gridion,
    ok,
    planned_run,
    samples_in_library_prep,
    start,
    two_barcode_pool,
)


async def _ended_run(client: httpx.AsyncClient, technician: Member) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    samples = await samples_in_library_prep(client, technician.password, 3)
    run = await planned_run(
        client, await gridion(client), await checked_flow_cell(client), await two_barcode_pool(client, samples)
    )
    await start(client, run, technician.password)
    ok(await client.post(f"{SEQ}/runs/{run['id']}/transitions", json={"to": "completed"}))
    return run, samples


def _files(summary: bytes | None = None, final: bytes | None = None) -> dict[str, tuple[str, bytes, str]]:
    return {
        "final_summary": (FINAL_SUMMARY.name, final or FINAL_SUMMARY.read_bytes(), "text/plain"),
        "sequencing_summary": (SEQUENCING_SUMMARY.name, summary or SEQUENCING_SUMMARY.read_bytes(), "text/plain"),
    }


async def test_importing_a_run_summary_gives_each_sample_its_yield_and_moves_it_to_analysis(
    client: httpx.AsyncClient, technician: Member
) -> None:
    run, samples = await _ended_run(client, technician)

    imported = ok(await client.post(f"{SEQ}/runs/{run['id']}/results", files=_files()))

    table = {row["barcode"]: row for row in imported["barcodes"]}
    # Worked by hand from tests/sequencing/data/sequencing_summary_*.txt.
    assert {name: table["barcode01"][name] for name in ("reads", "bases", "pass_reads", "pass_bases", "n50")} == {
        "reads": 4,
        "bases": 28000,
        "pass_reads": 3,
        "pass_bases": 23000,
        "n50": 8000,
    }
    assert (table["barcode01"]["mean_qscore"], table["barcode01"]["pass_rate"]) == (12.0, 0.75)
    assert (table["barcode02"]["bases"], table["barcode02"]["n50"], table["barcode02"]["pass_rate"]) == (
        36000,
        20000,
        0.6667,
    )
    assert [sample["human_id"] for sample in table["barcode01"]["samples"]] == [samples[0]["human_id"]]
    assert imported["unknown_barcodes"] == ["barcode13", "unclassified"]
    assert (table["barcode13"]["known"], table["barcode13"]["reads"]) == (False, 2)
    assert imported["run"]["metrics"]["reads"] == 10
    assert imported["run"]["metrics"]["bases"] == 70700
    assert imported["samples_moved_to_analysis"] == sorted(sample["human_id"] for sample in samples)
    for sample in samples:
        assert ok(await client.get(f"{SAMPLES}/{sample['id']}"))["status"] == "analysis"

    lineage = ok(await client.get(f"{SEQ}/samples/{samples[1]['id']}/lineage"))
    (library,) = lineage["libraries"]
    assert (library["name"], library["barcode"], library["shared_with"]) == (
        "LIB-ISO-0203",
        "NB02",
        [samples[2]["human_id"]],
    )
    (pool,) = library["pools"]
    (seen,) = pool["runs"]
    assert (seen["experiment_id"], seen["flow_cell"]["serial"], seen["result"]["bases"]) == (
        "RUN-2026-11-28-X3",
        "FAX12345",
        36000,
    )
    assert lineage["total"] == {"runs": 1, "reads": 3, "bases": 36000, "pass_bases": 35000}
    page = await client.get(f"/samples/{samples[1]['id']}", headers={"Accept": "text/html"})
    assert "1 run, 36,000 bases (35,000 passing) in 3 reads." in page.text


async def test_a_summary_with_bad_rows_is_refused_naming_each_row_and_changes_nothing(
    client: httpx.AsyncClient, technician: Member
) -> None:
    run, samples = await _ended_run(client, technician)
    lines = SEQUENCING_SUMMARY.read_text().splitlines()
    lines[2] = lines[2].replace("\t8000\t", "\teight thousand\t")
    lines[5] = lines[5].replace("\tTRUE\t", "\tmaybe\t")

    response = await client.post(f"{SEQ}/runs/{run['id']}/results", files=_files(("\n".join(lines) + "\n").encode()))

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(error["row"], error["column"]) for error in errors] == [
        (3, "sequence_length_template"),
        (6, "passes_filtering"),
    ]
    assert ok(await client.get(f"{SEQ}/runs/{run['id']}/results"))["barcodes"] == []
    assert ok(await client.get(f"{SAMPLES}/{samples[0]['id']}"))["status"] == "sequencing"


async def test_a_final_summary_of_another_flow_cell_is_refused(client: httpx.AsyncClient, technician: Member) -> None:
    run, _samples = await _ended_run(client, technician)
    other = FINAL_SUMMARY.read_bytes().replace(b"flow_cell_id=FAX12345", b"flow_cell_id=FAX99999")
    response = await client.post(f"{SEQ}/runs/{run['id']}/results", files=_files(final=other))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "final_summary.flow_cell_id", "message": "expected FAX12345"}]


async def test_results_are_not_imported_for_a_run_that_has_not_ended(
    client: httpx.AsyncClient, technician: Member
) -> None:
    samples = await samples_in_library_prep(client, technician.password, 3)
    run = await planned_run(
        client, await gridion(client), await checked_flow_cell(client), await two_barcode_pool(client, samples)
    )
    response = await client.post(f"{SEQ}/runs/{run['id']}/results", files=_files())
    assert response.status_code == 409
    assert response.json()["current_state"] == "planned"


async def test_the_dashboard_counts_runs_flow_cells_below_warranty_and_recent_yield(
    client: httpx.AsyncClient, technician: Member
) -> None:
    run, _samples = await _ended_run(client, technician)
    ok(await client.post(f"{SEQ}/runs/{run['id']}/results", files=_files()))
    await checked_flow_cell(client, "FAX00777", pores=512)

    page = await client.get("/", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert 'data-figure="yield-bases">70,700</strong>' in page.text
    assert 'data-figure="flow-cells-below-warranty">1</strong>' in page.text
    assert "Completed: 1" in page.text
