"""Many clients at once: numbers stay unique, a retried POST still creates one sample."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, sample_body

API = "/api/v1/samples"


async def test_concurrent_registrations_get_distinct_consecutive_ids(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    responses = await asyncio.gather(*(client.post(API, json=sample_body(name=f"T{n}")) for n in range(20)))
    assert [response.status_code for response in responses] == [201] * 20
    ids = sorted(response.json()["human_id"] for response in responses)
    assert ids == [f"SEQ-{n:06d}" for n in range(1, 21)]


async def test_the_same_idempotency_key_sent_concurrently_creates_one_sample(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    headers = {"Idempotency-Key": "robot-run-17"}
    responses = await asyncio.gather(*(client.post(API, json=sample_body(), headers=headers) for _ in range(5)))
    statuses = [response.status_code for response in responses]
    # A retry that arrives while the first is still committing is told to retry (409), never served twice.
    assert set(statuses) <= {201, 409}
    created = {response.json()["id"] for response in responses if response.status_code == 201}
    assert len(created) == 1
    assert len((await client.get(API)).json()["items"]) == 1
