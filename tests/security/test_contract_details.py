"""The HTTP contract in its details: the right status for a wrong method, Allow that lists them all, strict dates."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as

API = "/api/v1"


async def test_a_method_a_path_does_not_have_is_405_naming_the_ones_it_has(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    response = await client.patch(f"{API}/samples/transitions", json={"to": "qc"})
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "OPTIONS, POST"

    deleting = await client.delete(f"{API}/samples")
    assert deleting.status_code == 405
    assert deleting.headers["allow"] == "GET, HEAD, OPTIONS, POST"


async def test_options_answers_with_every_method_of_the_path(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    expected = {
        f"{API}/samples": "GET, HEAD, OPTIONS, POST",
        f"{API}/samples/transitions": "OPTIONS, POST",
        f"{API}/samples/0b6f4c4e-2f4e-4a59-9d43-5a1c3b1f9a10": "GET, HEAD, OPTIONS, PATCH",
    }
    for path, allow in expected.items():
        response = await client.options(path)
        assert response.status_code == 204, (path, response.text)
        assert response.headers["allow"] == allow, path


async def test_date_filters_refuse_numbers_taken_for_seconds_since_1970(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    for name, value in (("due_to", "0"), ("due_from", "1700000000"), ("created_from", "0")):
        response = await client.get(f"{API}/samples", params={name: value})
        assert response.status_code == 422, (name, response.text)
        assert [error["field"] for error in response.json()["errors"]] == [name]
    assert (await client.get(f"{API}/samples", params={"due_to": "2026-03-01"})).status_code == 200
    assert (await client.get(f"{API}/samples", params={"created_from": "2026-03-01T09:30:00Z"})).status_code == 200
