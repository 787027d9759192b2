from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl

from seqtrack.platform.schemas import Incoming


class WebhookIn(Incoming):
    url: HttpUrl
    event_types: list[str] = Field(
        min_length=1,
        max_length=100,
        description='Event types from GET /api/v1/webhooks/event-types, or ["*"] for all.',
    )
    description: str | None = Field(default=None, max_length=200)


class EventTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str


class EventTypeList(BaseModel):
    items: list[EventTypeOut]


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once: keep it to verify signatures.")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None = None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    state: str
    attempts: int
    status_code: int | None
    error: str | None
    duration_ms: float | None
    next_retry_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = None


class NotificationPreferencesIn(Incoming):
    email: EmailStr | None = Field(
        default=None, description="Your account's own address, the only one notifications go to (may be left out)."
    )
    event_types: list[str] = Field(max_length=100)


class NotificationPreferencesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    email: EmailStr = Field(description="Where the notifications go: your account's own address.")
    event_types: list[str]
