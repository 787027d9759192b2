"""Webhooks: signed deliveries retried with backoff, a breaker for dead receivers, SSRF refused."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.integrations import signing
from seqtrack.integrations.models import Webhook
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings
from tests.fixtures.processes import free_port
from tests.jobs.support import FAST, eventually, serve_in_process


class Receiver:
    """A webhook receiver that answers 503 for its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.calls.append((dict(request.headers), await request.body()))
        if len(self.calls) <= self.failures:
            return Response("busy", status_code=503)
        return Response(status_code=204)


async def _sample_received(settings: Settings, tenant: uuid.UUID) -> uuid.UUID:
    database = Database(settings)
    try:
        async with database.write_session() as session:
            stored = await record(
                session,
                DomainEvent(
                    type="sample.status_changed",
                    aggregate_type="sample",
                    aggregate_id=uuid.uuid4(),
                    data={"bench": "B2"},
                ),
                staff_actor(tenant),
            )
        return stored.id
    finally:
        await database.dispose()


async def test_a_receiver_failing_three_times_then_gets_the_event_with_a_valid_signature(
    manager_client: httpx.AsyncClient, fast_settings: Settings, tenant_id: uuid.UUID
) -> None:
    receiver = Receiver(failures=3)
    async with serve_in_process(receiver.app) as base:
        created = await manager_client.post(
            "/api/v1/webhooks", json={"url": f"{base}/hook", "event_types": ["sample.status_changed"]}
        )
        assert created.status_code == 201, created.text
        webhook = created.json()
        assert webhook["secret"].startswith("whsec_")
        event_id = await _sample_received(fast_settings, tenant_id)

        async def delivered() -> list[dict[str, Any]]:
            response = await manager_client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries")
            return [item for item in response.json()["items"] if item["state"] == "delivered"]

        [delivery] = await eventually(delivered)
    assert delivery["attempts"] == 4
    assert delivery["status_code"] == 204
    assert delivery["event_id"] == str(event_id)
    assert len(receiver.calls) == 4
    headers, body = receiver.calls[-1]
    assert signing.verify(webhook["secret"], headers, body)
    assert headers["webhook-id"] == str(event_id)
    assert not signing.verify("whsec_" + "A" * 32, headers, body)


async def test_a_receiver_that_is_down_trips_the_breaker_and_the_endpoint_is_disabled(
    tmp_path: Path, database_url: str, tenant_id: uuid.UUID
) -> None:
    from asgi_lifespan import LifespanManager

    from seqtrack.app import create_app
    from seqtrack.identity.deps import current_actor
    from seqtrack.platform.permissions import Role

    settings = make_settings(
        tmp_path / "data",
        database_url,
        **FAST,
        webhook_breaker_threshold=2,
        webhook_breaker_cooldown_seconds=0.2,
        webhook_disable_after_failures=4,
    )
    app = create_app(settings)
    app.dependency_overrides[current_actor] = lambda: staff_actor(tenant_id, Role.MANAGER)
    nobody_listens = f"http://127.0.0.1:{free_port()}/hook"
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            created = await client.post("/api/v1/webhooks", json={"url": nobody_listens, "event_types": ["*"]})
            webhook_id = created.json()["id"]
            await _sample_received(settings, tenant_id)

            async def disabled() -> dict[str, Any] | None:
                body: dict[str, Any] = (await client.get(f"/api/v1/webhooks/{webhook_id}")).json()
                return body if not body["active"] else None

            webhook = await eventually(disabled)

            async def settled() -> list[dict[str, Any]] | None:
                response = await client.get(f"/api/v1/webhooks/{webhook_id}/deliveries")
                items: list[dict[str, Any]] = response.json()["items"]
                return items if items and all(item["state"] != "pending" for item in items) else None

            deliveries = await eventually(settled)
    # Two deliveries (webhook.created, sample.status_changed) failed in turn; the run of 4 disabled it.
    assert webhook["consecutive_failures"] >= 4
    assert webhook["disabled_at"] is not None
    assert "failed deliveries in a row" in webhook["disabled_reason"]
    assert {item["state"] for item in deliveries} <= {"failed", "cancelled"}
    assert any("ConnectError" in (item["error"] or "") for item in deliveries)


async def test_redelivery_sends_a_past_event_again_as_a_new_delivery(
    manager_client: httpx.AsyncClient, fast_settings: Settings, tenant_id: uuid.UUID
) -> None:
    receiver = Receiver(failures=0)
    async with serve_in_process(receiver.app) as base:
        created = await manager_client.post(
            "/api/v1/webhooks", json={"url": f"{base}/hook", "event_types": ["sample.status_changed"]}
        )
        webhook_id = created.json()["id"]
        await _sample_received(fast_settings, tenant_id)

        async def deliveries() -> list[dict[str, Any]]:
            response = await manager_client.get(f"/api/v1/webhooks/{webhook_id}/deliveries")
            return [item for item in response.json()["items"] if item["state"] == "delivered"]

        [first] = await eventually(deliveries)
        again = await manager_client.post(f"/api/v1/webhooks/{webhook_id}/deliveries/{first['id']}/redeliver")
        assert again.status_code == 202
        trail = await manager_client.get("/api/v1/audit", params={"action": "webhook.redelivered"})
        assert [entry["entity_id"] for entry in trail.json()["items"]] == [webhook_id]
        both = await eventually(lambda: _at_least(deliveries, 2))
    assert {item["event_id"] for item in both} == {first["event_id"]}
    assert len(receiver.calls) == 2


async def _at_least(fetch: Any, count: int) -> list[dict[str, Any]] | None:
    items: list[dict[str, Any]] = await fetch()
    return items if len(items) >= count else None


async def test_a_webhook_to_a_loopback_address_is_refused_unless_private_networks_are_allowed(
    client: httpx.AsyncClient, app: Any, tenant_id: uuid.UUID
) -> None:
    from seqtrack.identity.deps import current_actor
    from seqtrack.platform.permissions import Role

    app.dependency_overrides[current_actor] = lambda: staff_actor(tenant_id, Role.MANAGER)
    for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://10.1.2.3/x", "ftp://a.b/c"):
        response = await client.post("/api/v1/webhooks", json={"url": url, "event_types": ["*"]})
        assert response.status_code == 422, url
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/api/v1/webhooks")).json()["items"] == []


async def test_the_signing_secret_is_shown_once_and_stored_only_encrypted(
    manager_client: httpx.AsyncClient, fast_settings: Settings
) -> None:
    created = await manager_client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": ["sample.status_changed"]}
    )
    secret = created.json()["secret"]
    fetched = (await manager_client.get(f"/api/v1/webhooks/{created.json()['id']}")).json()
    assert "secret" not in fetched
    database = Database(fast_settings)
    try:
        async with database.read_session() as session:
            stored = await session.scalar(select(Webhook))
    finally:
        await database.dispose()
    assert stored is not None
    assert secret not in stored.secret_encrypted
    assert signing.decrypt_secret(stored.secret_encrypted, fast_settings.signing_key()) == secret


async def test_another_tenants_webhook_is_not_found(manager_client: httpx.AsyncClient, fast_settings: Settings) -> None:
    database = Database(fast_settings)
    try:
        async with database.write_session() as session:
            other = Webhook(
                id=uuid.uuid4(),
                tenant_id=uuid.uuid4(),
                url="http://127.0.0.1:9/x",
                event_types=["*"],
                secret_encrypted="x",
            )
            session.add(other)
    finally:
        await database.dispose()
    assert (await manager_client.get(f"/api/v1/webhooks/{other.id}")).status_code == 404
    assert (await manager_client.get(f"/api/v1/webhooks/{other.id}/deliveries")).status_code == 404
    assert (await manager_client.delete(f"/api/v1/webhooks/{other.id}")).status_code == 404


async def test_an_endpoint_subscribes_only_to_event_types_that_exist(manager_client: httpx.AsyncClient) -> None:
    listed = await manager_client.get("/api/v1/webhooks/event-types")
    assert listed.status_code == 200, listed.text
    names = [item["name"] for item in listed.json()["items"]]
    assert "sample.status_changed" in names
    assert all(item["description"] for item in listed.json()["items"])

    refused = await manager_client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": ["sample.received", names[0]]}
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in refused.json()["errors"]] == ["event_types"]
    assert "sample.received" in refused.json()["detail"]
    assert (await manager_client.get("/api/v1/webhooks")).json()["items"] == []

    for subscription in (names, ["*"]):
        created = await manager_client.post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": subscription}
        )
        assert created.status_code == 201, created.text
        assert created.json()["event_types"] == sorted(subscription)


def test_email_preferences_offer_the_sample_events_of_the_same_catalogue() -> None:
    from seqtrack.integrations import email
    from seqtrack.samples.events import CATALOGUE

    assert {event.name for event in CATALOGUE if event.name.startswith("sample.")} == email.SAMPLE_EVENT_TYPES
    email.check_event_types([event.name for event in CATALOGUE if event.by_email])
