"""Webhook endpoints, their delivery log, and e-mail preferences."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from seqtrack.identity.deps import CurrentActor, require
from seqtrack.integrations import email, webhooks
from seqtrack.integrations.models import WebhookDelivery
from seqtrack.integrations.schemas import (
    DeliveryOut,
    DeliveryPage,
    EventTypeList,
    EventTypeOut,
    NotificationPreferencesIn,
    NotificationPreferencesOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPage,
)
from seqtrack.platform.actor import Actor
from seqtrack.platform.deps import ReadSession, WriteSession
from seqtrack.platform.errors import NotFound
from seqtrack.platform.permissions import Permission
from seqtrack.samples.deps import CanRead as CanReadSamples
from seqtrack.samples.events import CATALOGUE

router = APIRouter(tags=["webhooks"])

CanManageWebhooks = Annotated[Actor, Depends(require(Permission.WEBHOOKS_MANAGE))]


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
async def create_webhook(
    body: WebhookIn, request: Request, session: WriteSession, actor: CanManageWebhooks
) -> WebhookCreated:
    """Register an endpoint; the signing secret is in this response only."""
    webhook, secret = await webhooks.create_webhook(session, actor, body, request.app.state.settings)
    await session.flush()
    return WebhookCreated(**WebhookOut.model_validate(webhook).model_dump(), secret=secret)


@router.get("/webhooks", response_model=WebhookPage)
async def list_webhooks(session: ReadSession, actor: CanManageWebhooks) -> WebhookPage:
    """Your tenant's webhook endpoints."""
    rows = await webhooks.list_webhooks(session, actor)
    return WebhookPage(items=[WebhookOut.model_validate(row) for row in rows])


@router.get("/webhooks/event-types", response_model=EventTypeList)
async def list_event_types(actor: CanManageWebhooks) -> EventTypeList:
    """The event types an endpoint can subscribe to (or ``*`` for all of them)."""
    return EventTypeList(items=[EventTypeOut.model_validate(event) for event in CATALOGUE])


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: uuid.UUID, session: ReadSession, actor: CanManageWebhooks) -> WebhookOut:
    """One webhook endpoint with its failure count and whether it is disabled."""
    return WebhookOut.model_validate(await webhooks.get_webhook(session, actor, webhook_id))


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: uuid.UUID, session: WriteSession, actor: CanManageWebhooks) -> Response:
    """Remove an endpoint; its delivery log stays."""
    await webhooks.delete_webhook(session, actor, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/enable", response_model=WebhookOut)
async def enable_webhook(webhook_id: uuid.UUID, session: WriteSession, actor: CanManageWebhooks) -> WebhookOut:
    """Turn a disabled endpoint back on."""
    return WebhookOut.model_validate(await webhooks.enable_webhook(session, actor, webhook_id))


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    webhook_id: uuid.UUID,
    session: ReadSession,
    actor: CanManageWebhooks,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: uuid.UUID | None = None,
) -> DeliveryPage:
    """The delivery log, newest first: status code, error, duration and attempts of each."""
    rows, next_cursor = await webhooks.list_deliveries(session, actor, webhook_id, limit=limit, cursor=cursor)
    return DeliveryPage(
        items=[DeliveryOut.model_validate(row) for row in rows],
        next_cursor=str(next_cursor) if next_cursor else None,
    )


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, status_code=202)
async def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: WriteSession, actor: CanManageWebhooks
) -> WebhookDelivery:
    """Send a past delivery's event again."""
    delivery = await webhooks.redeliver(session, actor, webhook_id, delivery_id)
    await session.flush()
    return delivery


@router.get("/notifications/preferences", response_model=NotificationPreferencesOut, tags=["notifications"])
async def get_preferences(session: ReadSession, actor: CurrentActor) -> NotificationPreferencesOut:
    """Which sample events you receive by e-mail."""
    preference = await email.get_preferences(session, actor)
    if preference is None:
        raise NotFound("You have not chosen any e-mail notifications yet.")
    return NotificationPreferencesOut.model_validate(preference)


@router.put("/notifications/preferences", response_model=NotificationPreferencesOut, tags=["notifications"])
async def set_preferences(
    body: NotificationPreferencesIn, session: WriteSession, actor: CanReadSamples
) -> NotificationPreferencesOut:
    """Choose the sample events you receive by e-mail.

    `sample.created`, `sample.updated`, `sample.status_changed`, `sample.qc_recorded`,
    `sample.step_updated`, all of them as `sample.*`, or arrivals in one state as
    `sample.status_changed:<status>` (e.g. `sample.status_changed:received`).
    """
    preference = await email.set_preferences(session, actor, body)
    await session.flush()
    return NotificationPreferencesOut.model_validate(preference)
