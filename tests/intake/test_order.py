"""The order form's API: a bad billing code and a duplicate barcode are named together and nothing is kept."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_tenant
from tests.fixtures.samples import act_as, make_lab, submitter_actor
from tests.intake.support import API, count_samples, problem


async def test_an_order_with_a_bad_billing_code_and_a_duplicate_barcode_is_refused_then_fixed_and_committed(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    lab = await make_lab(database, tenant)
    acting = act_as(app, staff_actor(tenant, Role.MANAGER))
    settings = await client.get("/api/v1/samples/settings")
    await client.patch(
        "/api/v1/samples/settings",
        json={"billing_code_pattern": r"NANO-\d{3}"},
        headers={"If-Match": settings.headers["ETag"]},
    )
    acting.actor = submitter_actor(tenant, {lab})
    order = {
        "lab_id": str(lab),
        "project": "Soil isolates",
        "billing_code": "nano42",
        "samples": [
            {"name": "SOIL-1", "sample_type": "HMW DNA", "barcode": "T-100", "concentration_ng_ul": 55},
            {"name": "SOIL-2", "sample_type": "HMW DNA", "barcode": "T-100", "concentration_ng_ul": "40,5"},
        ],
    }
    refused = await client.post(f"{API}/order", json=order)
    assert refused.status_code == 422
    errors = {(error["sample"], error["field"]): error["message"] for error in problem(refused)["errors"]}
    assert set(errors) == {(1, "billing_code"), (2, "billing_code"), (2, "barcode")}
    assert errors[(2, "barcode")] == "same tube barcode as row 1"
    assert (await client.get(API)).json()["items"] == []

    order["billing_code"] = "NANO-042"
    order["samples"][1]["barcode"] = "T-101"  # type: ignore[index]
    accepted = await client.post(f"{API}/order", json=order)
    assert accepted.status_code == 201, accepted.text
    submission = accepted.json()
    assert submission["state"] == "validated"
    assert submission["source"] == "form"

    acting.actor = staff_actor(tenant, Role.TECHNICIAN)
    committed = await client.post(f"{API}/{submission['id']}/commit")
    assert committed.status_code == 200, committed.text
    assert await count_samples(database) == 2
