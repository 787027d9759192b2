"""PDF forms: fields found by rules with confidence and evidence; loose readings wait for a person."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from seqtrack.intake import mapping
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as
from tests.intake.support import API, count_samples, expected, problem, shared_file, upload


async def test_the_example_pdf_form_previews_each_field_with_confidence_and_evidence_and_commits(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    act_as(app, staff_actor())
    response = await upload(client, shared_file("nanopore_submission_form.pdf").read_bytes(), "form.pdf")
    assert response.status_code == 201, response.text
    preview: dict[str, Any] = response.json()
    wanted = expected("nanopore_submission_form.pdf")
    details = preview["details"]
    for name, value in wanted["submission"].items():
        assert details[name]["value"] == value
        assert 0.7 <= details[name]["confidence"] <= 1.0
        assert value in details[name]["evidence"]
    normalised = wanted["request_normalised"]
    assert details["flow_cell_type"]["value"] == normalised["flow_cell_type"]
    assert details["library_kit"]["value"] == normalised["library_kit"]
    assert details["barcoding_kit"]["value"] == normalised["barcoding_kit"]
    assert details["basecalling_model"]["value"] == normalised["basecalling"]
    assert details["flow_cell_count"]["value"] == normalised["flow_cell_count"]
    assert details["priority"]["value"] == normalised["priority"]
    assert details["library_kit"]["evidence"] == "Library prep kit: Ligation Sequencing Kit V14 (SQK-LSK114)"
    # The product code was in brackets after a description: sure, but not as sure as the bare code.
    assert details["library_kit"]["confidence"] < 1.0

    assert [row["values"]["name"] for row in preview["rows"]] == [sample["name"] for sample in wanted["samples"]]
    for row, sample in zip(preview["rows"], wanted["samples"], strict=True):
        assert row["values"]["concentration_ng_ul"] == sample["concentration_ng_ul"]
        assert row["values"]["volume_ul"] == sample["volume_ul"]
        assert row["values"]["a260_280"] == sample["a260_280"]
        assert row["values"]["library_barcode"] == sample["barcode"]
        assert row["values"]["sample_type"] == "hmw_dna"
        assert row["values"]["library_kit"] == "SQK-LSK114"
        assert row["confidence"]["name"]["evidence"].startswith(sample["name"])
    assert preview["state"] == "validated"

    committed = await client.post(f"{API}/{preview['id']}/commit")
    assert committed.status_code == 200, committed.text
    assert await count_samples(database) == len(wanted["samples"])
    listed = (await client.get("/api/v1/samples", params={"limit": 50})).json()["items"]
    assert {sample["organism"] for sample in listed} == {wanted["request"]["organism"]}
    assert {sample["billing_code"] for sample in listed} == {"NANO-042"}


def test_a_loose_kit_description_is_normalised_with_lowered_confidence() -> None:
    loose = mapping.normalise_controlled("library_kit", "ligation kit 14")
    exact = mapping.normalise_controlled("library_kit", "SQK-LSK114")
    assert loose is not None
    assert exact is not None
    assert loose.value == exact.value == "SQK-LSK114"
    assert exact.confidence == 1.0
    assert loose.confidence < 0.9
    vague = mapping.normalise_controlled("library_kit", "ligation kit")
    assert vague is not None
    assert vague.value == "SQK-LSK114"
    assert vague.confidence < 0.7


async def test_a_reading_under_the_threshold_must_be_confirmed_before_the_commit(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    act_as(app, staff_actor())
    content = b"Sample Name,Sample Type,Library Kit\nS-1,HMW DNA,ligation kit\nS-2,HMW DNA,SQK-LSK114\n"
    preview = (await upload(client, content)).json()
    assert preview["unconfirmed_count"] == 1
    first = preview["rows"][0]
    assert first["needs_confirmation"] == ["library_kit"]
    assert first["confidence"]["library_kit"]["evidence"] == "ligation kit"

    refused = await client.post(f"{API}/{preview['id']}/commit")
    assert refused.status_code == 409
    assert "confirmed" in problem(refused)["detail"]
    assert await count_samples(database) == 0

    stale = await client.patch(
        f"{API}/{preview['id']}/rows/2", json={"confirm": ["library_kit"]}, headers={"If-Match": '"x-0"'}
    )
    assert stale.status_code == 412
    etag = (await client.get(f"{API}/{preview['id']}")).headers["ETag"]
    confirmed = await client.patch(
        f"{API}/{preview['id']}/rows/2", json={"confirm": ["library_kit"]}, headers={"If-Match": etag}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["needs_confirmation"] == []
    assert (await client.post(f"{API}/{preview['id']}/commit")).status_code == 200
    assert await count_samples(database) == 2
