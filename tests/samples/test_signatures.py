"""Electronic signatures (21 CFR Part 11 style) on the transitions a facility marks as signed."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from seqtrack.audit.models import AuditEntry
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from seqtrack.samples.models import Sample
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import act_as, sample_body

API = "/api/v1/samples"


async def _sample_in_qc(database: Database, client: httpx.AsyncClient) -> dict[str, object]:
    sample = (await client.post(API, json=sample_body())).json()
    for step in ("received", "qc"):
        assert (await client.post(f"{API}/{sample['id']}/transitions", json={"to": step})).status_code == 200
    response = await client.post(f"{API}/{sample['id']}/qc", json={"kind": "a260_280", "value": 1.88})
    assert response.json()["judgement"] == "pass"
    created: dict[str, object] = sample
    return created


async def test_a_qc_release_without_reauthentication_is_refused_naming_what_is_missing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    act_as(app, member.actor)
    sample = await _sample_in_qc(database, client)

    response = await client.post(f"{API}/{sample['id']}/transitions", json={"to": "library_prep"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "sample.signature_required"
    assert problem["missing"] == ["signature.password", "signature.meaning"]
    assert problem["transitions"] == ["qc->library_prep"]

    wrong = await client.post(
        f"{API}/{sample['id']}/transitions",
        json={"to": "library_prep", "signature": {"password": "not-my-password", "meaning": "approved"}},
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "sample.signature_rejected"
    assert (await client.get(f"{API}/{sample['id']}")).json()["status"] == "qc"


async def test_a_signed_qc_release_puts_signer_time_and_meaning_in_the_audit_entry_and_event(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    act_as(app, member.actor)
    sample = await _sample_in_qc(database, client)

    response = await client.post(
        f"{API}/{sample['id']}/transitions",
        json={
            "to": "library_prep",
            "reason": "QC within limits",
            "signature": {"password": member.password, "meaning": "approved"},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "library_prep"

    async with database.read_session() as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.entity_id == uuid.UUID(str(sample["id"])), AuditEntry.action == "sample.status_changed")
            .order_by(AuditEntry.sequence.desc())
            .limit(1)
        )
    assert entry is not None
    assert entry.signature is not None
    assert entry.signature["signer_id"] == str(member.user_id)
    assert entry.signature["signer"] == member.actor.display
    assert entry.signature["meaning"] == "approved"
    assert entry.signature["transition"] == "qc->library_prep"
    assert entry.signature["signed_at"] <= entry.occurred_at.isoformat()
    assert entry.reason == "QC within limits"
    events = (await client.get(f"{API}/{sample['id']}/events")).json()
    assert events[-1]["data"]["signature"] == entry.signature


async def test_a_bulk_sequencing_release_needs_one_signature_for_all(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    member = await make_member(database, await make_tenant(database), Role.MANAGER)
    act_as(app, member.actor)
    samples = [await _sample_in_qc(database, client) for _ in range(2)]
    async with database.write_session() as session:
        await session.execute(
            update(Sample)
            .where(Sample.id.in_([uuid.UUID(str(s["id"])) for s in samples]))
            .values(status="library_prep")
        )
    ids = [sample["id"] for sample in samples]

    unsigned = await client.post(f"{API}/transitions", json={"sample_ids": ids, "to": "sequencing"})
    assert unsigned.status_code == 422
    signed = await client.post(
        f"{API}/transitions",
        json={
            "sample_ids": ids,
            "to": "sequencing",
            "signature": {"password": member.password, "meaning": "released"},
        },
    )
    assert signed.status_code == 200, signed.text
    trail = (await client.get("/api/v1/audit", params={"action": "sample.status_changed", "limit": 2})).json()
    assert {entry["signature"]["meaning"] for entry in trail["items"]} == {"released"}
    assert {entry["signature"]["sample"] for entry in trail["items"]} == {s["human_id"] for s in samples}
