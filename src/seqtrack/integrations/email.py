"""E-mail notifications: SMTP in production, ``.eml`` files under ``data_dir/mail`` in development.

Users choose which sample events they hear about (``notification_preferences``);
a consumer turns each matching event into one ``email.send`` job per recipient.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events import consumers
from seqtrack.identity.actor import Actor
from seqtrack.integrations.models import NotificationPreference
from seqtrack.integrations.schemas import NotificationPreferencesIn
from seqtrack.jobs import registry
from seqtrack.jobs import service as jobs_service
from seqtrack.platform.errors import RuleViolation
from seqtrack.platform.models import new_id, utcnow
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.email")

SEND_TASK = "email.send"
# Only sample events reach people's inboxes; admin events go to webhooks and the audit trail.
NOTIFIABLE_PREFIX = "sample."


def build_message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@seqtrack>"
    message.set_content(body)
    return message


async def send(settings: Settings, message: EmailMessage) -> None:
    if settings.mail_backend == "file":
        directory = settings.data_dir / "mail"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(message))
        log.info("e-mail written to file", path=str(path), to=message["To"])
        return
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        start_tls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_seconds,
    )


@registry.task(SEND_TASK, max_attempts=6, timeout_seconds=60)
async def send_email(ctx: registry.JobContext, *, to: str, subject: str, body: str) -> None:
    await send(ctx.settings, build_message(ctx.settings, to, subject, body))


async def get_preferences(session: AsyncSession, actor: Actor) -> NotificationPreference | None:
    if actor.principal_id is None:
        return None
    return await session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.principal_id == actor.principal_id,
            NotificationPreference.tenant_id == actor.tenant_id,
        )
    )


async def set_preferences(
    session: AsyncSession, actor: Actor, body: NotificationPreferencesIn
) -> NotificationPreference:
    if actor.principal_id is None:
        raise RuleViolation("Only people and API keys can choose e-mail notifications.")
    preference = await get_preferences(session, actor)
    if preference is None:
        preference = NotificationPreference(id=new_id(), tenant_id=actor.tenant_id, principal_id=actor.principal_id)
        session.add(preference)
    preference.email = str(body.email)
    preference.event_types = sorted(set(body.event_types))
    preference.updated_at = utcnow()
    return preference


def describe(envelope: dict[str, Any]) -> tuple[str, str]:
    data = envelope.get("data") or {}
    label = data.get("name") or data.get("barcode") or envelope.get("aggregate_id")
    subject = f"[SeqTrack] {envelope['type']}: {label}"
    lines = [
        f"Event: {envelope['type']}",
        f"Sample: {label}",
        f"When: {envelope.get('occurred_at')}",
        f"By: {(envelope.get('actor') or {}).get('display')}",
    ]
    if isinstance(data, dict) and data.get("changes"):
        for field, (old, new) in data["changes"].items():
            lines.append(f"{field}: {old} -> {new}")
    return subject, "\n".join(lines) + "\n"


@consumers.consumer("email_notifications")
async def notify_subscribers(session: AsyncSession, envelope: dict[str, Any]) -> None:
    event_type = str(envelope["type"])
    if not event_type.startswith(NOTIFIABLE_PREFIX):
        return
    tenant_id = uuid.UUID(str(envelope["tenant_id"]))
    subject, body = describe(envelope)
    rows = await session.scalars(select(NotificationPreference).where(NotificationPreference.tenant_id == tenant_id))
    for preference in rows.all():
        if event_type in preference.event_types or "sample.*" in preference.event_types:
            await jobs_service.enqueue(
                session, SEND_TASK, {"to": preference.email, "subject": subject, "body": body}, tenant_id=tenant_id
            )
