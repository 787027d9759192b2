"""Odd or hostile input gets a clear 4xx problem naming what is wrong, never a 500."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
from fastapi import FastAPI

from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, sample_body

API = "/api/v1"


async def test_a_forged_cursor_is_refused_by_name(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    forged = base64.urlsafe_b64encode(json.dumps([1, 2]).encode()).decode().rstrip("=")
    response = await client.get(f"{API}/samples", params={"cursor": forged})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_an_if_match_with_exotic_digits_is_a_precondition_failure(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    created = (await client.post(f"{API}/samples", json=sample_body())).json()
    response = await client.patch(
        f"{API}/samples/{created['id']}",
        json={"notes": "x"},
        headers={b"If-Match": f'"{created["id"]}-²"'.encode("latin-1")},
    )
    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_nul_in_a_login_email_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/token", json={"email": "a\u0000b@lab.example", "password": "whatever-pass"}
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["email"]


async def test_a_nul_in_a_query_parameter_is_refused_naming_it(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    response = await client.get(f"{API}/jobs", params={"task": "intake\u0000", "limit": "5"})
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["task"]


async def test_a_resume_position_beyond_any_event_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    response = await client.get(f"{API}/events/stream", headers={"Last-Event-ID": str(2**70)})
    assert response.status_code == 422
    assert "Last-Event-ID" in response.text


async def test_a_step_cannot_be_assigned_to_someone_outside_the_facility(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    created = (await client.post(f"{API}/samples", json=sample_body())).json()
    response = await client.patch(f"{API}/samples/{created['id']}/steps/1", json={"assignee_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "assignee_id"
