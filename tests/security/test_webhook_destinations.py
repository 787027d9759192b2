"""A webhook cannot be pointed at the server's own network, however the address is wrapped or re-resolved."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seqtrack.identity.permissions import Role
from seqtrack.integrations.http import OutboundClient
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings
from tests.fixtures.samples import act_as
from tests.jobs.support import serve_in_process

WRAPPED_INTERNAL = [
    "http://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "http://[2002:a9fe:a9fe::]/latest",  # 6to4 around the cloud metadata service 169.254.169.254
    "http://[2002:a00:1::]/x",  # 6to4 around 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x",  # Teredo whose client is 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/x",  # NAT64 around 169.254.169.254
]


async def test_6to4_teredo_and_nat64_wrapping_an_internal_address_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor(role=Role.ADMIN))
    for url in WRAPPED_INTERNAL:
        response = await client.post("/api/v1/webhooks", json={"url": url, "event_types": ["*"]})
        assert response.status_code == 422, (url, response.text)
        assert response.json()["field"] == "url"
    # 6to4 around a public address is an ordinary public destination.
    public = await client.post("/api/v1/webhooks", json={"url": "http://[2002:5db8:d822::]/hook", "event_types": ["*"]})
    assert public.status_code == 201, public.text
    assert [item["url"] for item in (await client.get("/api/v1/webhooks")).json()["items"]] == [
        "http://[2002:5db8:d822::]/hook"
    ]


async def test_a_delivery_connects_to_the_address_it_checked_not_a_second_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def hook(request: Request) -> Response:
        seen.append(request.headers["host"])
        return Response(status_code=204)

    answers = iter(["127.0.0.1", "127.0.0.3"])  # the second answer is where a rebinding attacker points
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.rebind.test":
            lookups.append(host)
            return real_getaddrinfo(next(answers), port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    settings = make_settings(tmp_path, webhook_allow_private_networks=True, http_timeout_seconds=3)
    outbound = OutboundClient(settings)
    try:
        async with serve_in_process(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
            port = httpx.URL(base).port
            response = await outbound.post(f"http://hooks.rebind.test:{port}/hook", b"{}", {})
    finally:
        await outbound.aclose()
    assert response.status_code == 204
    assert seen == [f"hooks.rebind.test:{port}"]
    assert lookups == ["hooks.rebind.test"]
