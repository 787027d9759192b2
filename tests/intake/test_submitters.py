"""Submitters submit for their own labs, see only their submissions, and hear of the decision by e-mail."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from seqtrack.identity.permissions import Role
from seqtrack.jobs.models import Job
from seqtrack.platform import crypto
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_tenant
from tests.fixtures.samples import act_as, make_lab, submitter_actor
from tests.intake.support import API, count_samples, problem, shared_file, upload

ROWS = "Sample Name,Sample Type,Submitter Email\r\nS-1,HMW DNA,pi@lab.example\r\nS-2,cDNA,pi@lab.example\r\n"


async def _mails(database: Database) -> list[dict[str, str]]:
    async with database.read_session() as session:
        jobs = (await session.scalars(select(Job).where(Job.task == "email.send"))).all()
    return [dict(job.args) for job in jobs]


async def test_a_submitter_uploads_for_their_lab_staff_commit_and_the_submitter_is_emailed(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    own, other = await make_lab(database, tenant), await make_lab(database, tenant)
    acting = act_as(app, submitter_actor(tenant, {own}))

    refused = await upload(client, ROWS.encode(), "mine.csv", lab_id=str(other))
    assert refused.status_code == 403
    assert "your own labs" in problem(refused)["detail"]
    no_lab = await upload(client, ROWS.encode(), "mine.csv")
    assert no_lab.status_code == 422

    preview = await upload(client, shared_file("nanopore_submission.csv").read_bytes(), "mine.csv", lab_id=str(own))
    assert preview.status_code == 201, preview.text
    submission = preview.json()
    assert (await client.post(f"{API}/{submission['id']}/commit")).status_code == 403
    listed = (await client.get(API)).json()["items"]
    assert [item["id"] for item in listed] == [submission["id"]]

    acting.actor = staff_actor(tenant, Role.TECHNICIAN)
    committed = await client.post(f"{API}/{submission['id']}/commit")
    assert committed.status_code == 200, committed.text
    assert await count_samples(database) == 24
    [mail] = await _mails(database)
    assert crypto.unseal(mail["to"]) == "dana.whitfield@bio.example.edu"
    assert "accepted" in mail["subject"]
    assert "24 samples" in mail["body"]

    acting.actor = submitter_actor(tenant, {own})
    samples = (await client.get("/api/v1/samples", params={"limit": 100})).json()["items"]
    assert len(samples) == 24
    assert {sample["lab_id"] for sample in samples} == {str(own)}


async def test_a_rejected_submission_creates_nothing_and_tells_the_submitter_why(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    lab = await make_lab(database, tenant)
    acting = act_as(app, submitter_actor(tenant, {lab}))
    submission = (await upload(client, ROWS.encode(), "order.csv", lab_id=str(lab))).json()

    acting.actor = staff_actor(tenant, Role.TECHNICIAN)
    rejected = await client.post(f"{API}/{submission['id']}/reject", json={"reason": "tubes arrived thawed"})
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    [mail] = await _mails(database)
    # Addresses travel sealed in a job's arguments (personal data at rest).
    assert crypto.unseal(mail["to"]) == "pi@lab.example"
    assert "tubes arrived thawed" in mail["body"]
    assert (await client.post(f"{API}/{submission['id']}/commit")).status_code == 409
    assert await count_samples(database) == 0


async def test_another_facility_cannot_see_a_submission(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    acting = act_as(app, staff_actor())
    submission = (await upload(client, ROWS.encode(), "order.csv")).json()
    acting.actor = staff_actor()
    assert (await client.get(f"{API}/{submission['id']}")).status_code == 404
    assert (await client.post(f"{API}/{submission['id']}/commit")).status_code == 404
