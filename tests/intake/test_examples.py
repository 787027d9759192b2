"""Acceptance 1: the facility's own example files preview with the expected rows and fields, then commit."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as
from tests.intake.support import API, SAMPLE_TYPES, count_samples, expected, shared_file, upload

NUMBERS = ("concentration_ng_ul", "volume_ul", "a260_280", "a260_230", "fragment_size_bp")


def _as_stored(sample: dict[str, Any]) -> dict[str, Any]:
    """The expected reading in SeqTrack's own names: controlled values stored, empty cells absent."""
    stored: dict[str, Any] = {}
    for name, value in sample.items():
        if value in ("", None):
            continue
        if name == "sample_type":
            value = SAMPLE_TYPES[value]
        if name == "barcode":
            # A nanopore form's "Barcode" (NB01) is the library barcode, not the tube's label.
            name = "library_barcode"
        stored[name] = value
    return stored


async def _preview_of(client: httpx.AsyncClient, file_name: str) -> dict[str, Any]:
    response = await upload(client, shared_file(file_name).read_bytes(), file_name)
    assert response.status_code == 201, response.text
    preview: dict[str, Any] = response.json()
    return preview


async def test_the_example_csv_previews_every_row_as_written_and_commits_them_all(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    act_as(app, staff_actor())
    preview = await _preview_of(client, "nanopore_submission.csv")
    wanted = expected("nanopore_submission.csv")
    assert preview["state"] == "validated", preview["rows"][0]["errors"]
    assert preview["error_count"] == 0
    assert [row["values"]["name"] for row in preview["rows"]] == [sample["name"] for sample in wanted["samples"]]
    for row, sample in zip(preview["rows"], wanted["samples"], strict=True):
        shown = {name: row["values"].get(name) for name in _as_stored(sample)}
        assert shown == _as_stored(sample)
    details = {name: answer["value"] for name, answer in preview["details"].items()}
    assert details == {**details, **wanted["submission"]}
    shown_mapping = {column["column"]: column["field"] for column in preview["mapping"]}
    assert shown_mapping["Conc. (ng/µL)"] == "concentration_ng_ul"
    assert shown_mapping["Sample Name"] == "name"

    committed = await client.post(f"{API}/{preview['id']}/commit")
    assert committed.status_code == 200, committed.text
    assert committed.json()["state"] == "committed"
    assert committed.json()["samples_created"] == len(wanted["samples"])
    assert await count_samples(database) == len(wanted["samples"])
    listed = (await client.get("/api/v1/samples", params={"limit": 200})).json()["items"]
    assert sorted(sample["name"] for sample in listed) == sorted(sample["name"] for sample in wanted["samples"])


async def test_the_example_xlsx_reads_the_header_block_and_the_table_below_it_and_commits(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    act_as(app, staff_actor())
    preview = await _preview_of(client, "nanopore_submission.xlsx")
    wanted = expected("nanopore_submission.xlsx")
    assert preview["header_row"] == 9
    assert preview["state"] == "validated", [row["errors"] for row in preview["rows"] if row["errors"]]
    assert next(row["row"] for row in preview["rows"]) == 10
    for row, sample in zip(preview["rows"], wanted["samples"], strict=True):
        shown = {name: row["values"].get(name) for name in _as_stored(sample)}
        assert shown == _as_stored(sample)
    details = {name: answer["value"] for name, answer in preview["details"].items()}
    assert details == {**details, **wanted["submission"]}
    committed = await client.post(f"{API}/{preview['id']}/commit")
    assert committed.status_code == 200, committed.text
    assert await count_samples(database) == len(wanted["samples"])
    listed = (await client.get("/api/v1/samples", params={"limit": 200})).json()["items"]
    assert {sample["project"] for sample in listed} == {wanted["submission"]["project"]}
