"""Webhook endpoints per tenant: registration, fan-out of events, signed delivery with retries."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events import consumers
from seqtrack.events.recorder import DomainEvent, record
from seqtrack.integrations import signing
from seqtrack.integrations.breaker import Breaker, BreakerState
from seqtrack.integrations.errors import DeliveryNotFound, WebhookNotFound
from seqtrack.integrations.http import OutboundClient, check_destination
from seqtrack.integrations.models import Webhook, WebhookDelivery
from seqtrack.integrations.schemas import WebhookIn
from seqtrack.jobs import registry
from seqtrack.jobs import service as jobs_service
from seqtrack.jobs.worker import GiveUp, RetryLater
from seqtrack.platform.actor import Actor
from seqtrack.platform.errors import InvalidInput
from seqtrack.platform.models import new_id, utcnow
from seqtrack.samples.events import EVENT_TYPE_NAMES
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.webhooks")

DELIVER_TASK = "webhooks.deliver"
# Attempts are bounded by SEQTRACK_WEBHOOK_MAX_ATTEMPTS inside the handler; the job
# ledger's own bound only stops a handler that keeps crashing before it can decide.
LEDGER_MAX_ATTEMPTS = 100


EVERY_EVENT = "*"


def check_event_types(event_types: list[str]) -> list[str]:
    """The subscription, sorted and without repeats; a type no domain emits is refused by name.

    A misspelt type would otherwise make an endpoint that silently never hears anything.
    """
    unknown = sorted({name for name in event_types if name != EVERY_EVENT and name not in EVENT_TYPE_NAMES})
    if unknown:
        raise InvalidInput(
            f"Unknown event types: {', '.join(unknown)}. GET /api/v1/webhooks/event-types lists them; "
            f'["{EVERY_EVENT}"] subscribes to all.',
            errors=[{"field": "event_types", "message": f"unknown event types: {', '.join(unknown)}"}],
        )
    return sorted(set(event_types))


async def _record(session: AsyncSession, actor: Actor, webhook: Webhook, what: str, **event: Any) -> None:
    """Record ``webhook.<what>`` for one endpoint through the write path; ``event`` holds its data and changes."""
    await record(
        session, DomainEvent(type=f"webhook.{what}", aggregate_type="webhook", aggregate_id=webhook.id, **event), actor
    )


async def create_webhook(
    session: AsyncSession, actor: Actor, body: WebhookIn, settings: Settings
) -> tuple[Webhook, str]:
    """Register an endpoint; the plain secret is returned once and stored only encrypted."""
    event_types = check_event_types(body.event_types)
    url = str(body.url)
    await check_destination(url, settings)
    secret = signing.new_secret()
    webhook = Webhook(
        id=new_id(),
        tenant_id=actor.tenant_id,
        url=url,
        event_types=event_types,
        description=body.description,
        secret_encrypted=signing.encrypt_secret(secret, settings.signing_key()),
        active=True,
        consecutive_failures=0,
    )
    session.add(webhook)
    await _record(
        session,
        actor,
        webhook,
        "created",
        data={"url": url, "event_types": webhook.event_types},
        changes={"url": (None, url)},
    )
    return webhook, secret


async def list_webhooks(session: AsyncSession, actor: Actor) -> list[Webhook]:
    rows = await session.scalars(select(Webhook).where(Webhook.tenant_id == actor.tenant_id).order_by(Webhook.id))
    return list(rows.all())


async def get_webhook(session: AsyncSession, actor: Actor, webhook_id: uuid.UUID, *, lock: bool = False) -> Webhook:
    webhook = await session.get(Webhook, webhook_id, with_for_update=lock or None)
    if webhook is None or webhook.tenant_id != actor.tenant_id:
        raise WebhookNotFound(f"No webhook {webhook_id}.")
    return webhook


async def delete_webhook(session: AsyncSession, actor: Actor, webhook_id: uuid.UUID) -> None:
    webhook = await get_webhook(session, actor, webhook_id, lock=True)
    await session.delete(webhook)
    await _record(session, actor, webhook, "deleted", data={"url": webhook.url}, changes={"url": (webhook.url, None)})


async def enable_webhook(session: AsyncSession, actor: Actor, webhook_id: uuid.UUID) -> Webhook:
    """Turn a disabled endpoint back on with a closed breaker (the receiver is fixed)."""
    webhook = await get_webhook(session, actor, webhook_id, lock=True)
    was_active = webhook.active
    webhook.active = True
    webhook.consecutive_failures = 0
    webhook.breaker_opened_at = None
    webhook.disabled_at = None
    webhook.disabled_reason = None
    await _record(session, actor, webhook, "enabled", changes={"active": (was_active, True)})
    return webhook


async def list_deliveries(
    session: AsyncSession, actor: Actor, webhook_id: uuid.UUID, *, limit: int = 50, cursor: uuid.UUID | None = None
) -> tuple[list[WebhookDelivery], uuid.UUID | None]:
    await get_webhook(session, actor, webhook_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.tenant_id == actor.tenant_id
    )
    if cursor is not None:
        query = query.where(WebhookDelivery.id < cursor)
    rows = list((await session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1))).all())
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


async def _new_delivery(session: AsyncSession, webhook: Webhook, envelope: dict[str, Any]) -> WebhookDelivery:
    delivery = WebhookDelivery(
        id=new_id(),
        tenant_id=webhook.tenant_id,
        webhook_id=webhook.id,
        event_id=uuid.UUID(str(envelope["id"])),
        event_type=str(envelope["type"]),
        payload=envelope,
        state="pending",
        attempts=0,
    )
    session.add(delivery)
    await jobs_service.enqueue(
        session,
        DELIVER_TASK,
        {"delivery_id": delivery.id},
        tenant_id=webhook.tenant_id,
        max_attempts=LEDGER_MAX_ATTEMPTS,
    )
    return delivery


async def redeliver(
    session: AsyncSession, actor: Actor, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Send a past delivery's event again, as a new delivery with its own log."""
    webhook = await get_webhook(session, actor, webhook_id)
    original = await session.get(WebhookDelivery, delivery_id)
    if original is None or original.webhook_id != webhook.id:
        raise DeliveryNotFound(f"No delivery {delivery_id} for webhook {webhook_id}.")
    delivery = await _new_delivery(session, webhook, dict(original.payload))
    await _record(
        session, actor, webhook, "redelivered", data={"original_delivery_id": original.id, "delivery_id": delivery.id}
    )
    return delivery


def subscribed(webhook: Webhook, event_type: str) -> bool:
    return EVERY_EVENT in webhook.event_types or event_type in webhook.event_types


async def _subscribed_endpoints(session: AsyncSession, envelope: dict[str, Any]) -> list[Webhook]:
    tenant_id = uuid.UUID(str(envelope["tenant_id"]))
    endpoints = await session.scalars(select(Webhook).where(Webhook.tenant_id == tenant_id, Webhook.active))
    return [webhook for webhook in endpoints.all() if subscribed(webhook, str(envelope["type"]))]


async def any_endpoint_subscribed(session: AsyncSession, envelope: dict[str, Any]) -> bool:
    return bool(await _subscribed_endpoints(session, envelope))


# An endpoint may subscribe to any event type ("*" included): which ones matter is
# decided per event by the tenant's endpoints, before anything is written.
@consumers.consumer("webhooks", handles=["*"], concerned=any_endpoint_subscribed)
async def fan_out(session: AsyncSession, envelope: dict[str, Any]) -> None:
    """One delivery (and one job) per active endpoint of the event's tenant that wants it."""
    for webhook in await _subscribed_endpoints(session, envelope):
        await _new_delivery(session, webhook, envelope)


@registry.task(DELIVER_TASK, max_attempts=LEDGER_MAX_ATTEMPTS)
async def deliver(ctx: registry.JobContext, *, delivery_id: str) -> None:
    """One try at one delivery; failures raise so the job ledger retries with backoff."""
    settings = ctx.settings
    breaker = Breaker(settings.webhook_breaker_threshold, settings.webhook_breaker_cooldown_seconds)
    async with ctx.database.read_session() as session:
        delivery = await session.get(WebhookDelivery, uuid.UUID(delivery_id))
        webhook = await session.get(Webhook, delivery.webhook_id) if delivery is not None else None
    if delivery is None or delivery.state == "delivered":
        return
    if webhook is None or not webhook.active:
        await _finish(ctx, delivery.id, state="cancelled", error="the webhook was disabled or removed")
        return
    state = breaker.state(webhook.consecutive_failures, webhook.breaker_opened_at, utcnow())
    if state is BreakerState.OPEN:
        wait = breaker.seconds_until_retry(webhook.breaker_opened_at, utcnow())
        await _finish(ctx, delivery.id, state="pending", error="circuit open", next_retry_in=wait)
        raise RetryLater("the endpoint's circuit breaker is open", wait)

    body = orjson.dumps(delivery.payload)
    secret = signing.decrypt_secret(webhook.secret_encrypted, settings.signing_key())
    headers = signing.signature_headers(secret, str(delivery.event_id), body)
    client = OutboundClient(settings)
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    try:
        response = await client.post(webhook.url, body, headers)
        status_code = response.status_code
        if not 200 <= response.status_code < 300:
            error = f"receiver answered {response.status_code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # the SSRF guard refusing a host that now resolves privately
        error = str(exc)
    finally:
        await client.aclose()
    duration_ms = (time.monotonic() - started) * 1000

    attempt_no = delivery.attempts + 1
    if error is None:
        async with ctx.database.write_session() as session:
            row = await session.get(Webhook, webhook.id, with_for_update=True)
            if row is not None:
                row.consecutive_failures = 0
                row.breaker_opened_at = None
            await _record_attempt(session, delivery.id, "delivered", attempt_no, status_code, None, duration_ms)
        return

    give_up = attempt_no >= settings.webhook_max_attempts
    async with ctx.database.write_session() as session:
        row = await session.get(Webhook, webhook.id, with_for_update=True)
        disabled = False
        if row is not None:
            row.consecutive_failures += 1
            if row.consecutive_failures >= settings.webhook_breaker_threshold:
                row.breaker_opened_at = utcnow()
            if row.active and row.consecutive_failures >= settings.webhook_disable_after_failures:
                row.active = False
                row.disabled_at = utcnow()
                row.disabled_reason = f"{row.consecutive_failures} failed deliveries in a row"
                disabled = True
                await _record(
                    session,
                    Actor.system(row.tenant_id, "webhook delivery"),
                    row,
                    "disabled",
                    data={"reason": row.disabled_reason},
                    changes={"active": (True, False)},
                )
        final = give_up or disabled
        await _record_attempt(
            session, delivery.id, "failed" if final else "pending", attempt_no, status_code, error, duration_ms
        )
    log.warning("webhook delivery failed", webhook_id=str(webhook.id), attempt=attempt_no, error=error)
    if final:
        raise GiveUp(f"delivery abandoned after {attempt_no} attempts: {error}")
    raise RuntimeError(error)


async def _record_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    state: str,
    attempts: int,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
) -> None:
    row = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if row is None:
        return
    row.state = state
    row.attempts = attempts
    row.status_code = status_code
    row.error = error
    row.duration_ms = round(duration_ms, 2)
    row.next_retry_at = None
    if state == "delivered":
        row.delivered_at = utcnow()


async def _finish(
    ctx: registry.JobContext,
    delivery_id: uuid.UUID,
    *,
    state: str,
    error: str,
    next_retry_in: float | None = None,
) -> None:
    async with ctx.database.write_session() as session:
        row = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if row is not None:
            row.state = state
            row.error = error
            row.next_retry_at = utcnow() + timedelta(seconds=next_retry_in) if next_retry_in is not None else None
