"""E-mail notifications: SMTP in production, ``.eml`` files under ``data_dir/mail`` in development.

Users choose which sample events they hear about (``notification_preferences``);
a consumer turns each matching event into one ``email.send`` job per recipient
who may still read that sample: an active member (or a live API key of one) with
``samples:read`` and, for a submitter, the sample's lab among theirs.
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
from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity import service as identity
from seqtrack.identity.errors import TenantNotFound
from seqtrack.integrations.models import NotificationPreference
from seqtrack.integrations.schemas import NotificationPreferencesIn
from seqtrack.jobs import registry
from seqtrack.jobs import service as jobs_service
from seqtrack.platform import crypto
from seqtrack.platform.actor import Actor
from seqtrack.platform.errors import InvalidInput, RuleViolation
from seqtrack.platform.models import new_id, utcnow
from seqtrack.platform.permissions import Permission
from seqtrack.samples.events import CATALOGUE, SampleEvent
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.email")

SEND_TASK = "email.send"
# Only sample events reach people's inboxes; admin events go to webhooks and the audit trail.
NOTIFIABLE_PREFIX = "sample."
# From the samples domain's catalogue, as webhooks are.
SAMPLE_EVENT_TYPES = frozenset(event.name for event in CATALOGUE if event.by_email)
EVERY_SAMPLE_EVENT = "sample.*"
# "sample.status_changed:received" subscribes to arrivals in one state only.
STATUS_CHANGED = SampleEvent.STATUS_CHANGED.value
PREFERENCE_AGGREGATE = "notification_preference"


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
        log.info("e-mail written to file", path=str(path), to=crypto.mask_email(str(message["To"])))
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
    await send(ctx.settings, build_message(ctx.settings, crypto.unseal(to), subject, body))


async def get_preferences(session: AsyncSession, actor: Actor) -> NotificationPreference | None:
    if actor.principal_id is None:
        return None
    return await session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.principal_id == actor.principal_id,
            NotificationPreference.tenant_id == actor.tenant_id,
        )
    )


def check_event_types(event_types: list[str]) -> list[str]:
    """The subscription, sorted and without repeats; unknown event types are refused by name."""
    unknown = [choice for choice in event_types if not _known(choice)]
    if unknown:
        raise InvalidInput(
            "Only sample events can be chosen: "
            f"{', '.join(sorted(SAMPLE_EVENT_TYPES))}, {EVERY_SAMPLE_EVENT}, or {STATUS_CHANGED}:<status>.",
            errors=[{"field": "event_types", "message": f"unknown event types: {', '.join(unknown)}"}],
        )
    return sorted(set(event_types))


def _known(choice: str) -> bool:
    if choice == EVERY_SAMPLE_EVENT or choice in SAMPLE_EVENT_TYPES:
        return True
    kind, _, status = choice.partition(":")
    return kind == STATUS_CHANGED and status in SampleStatus._value2member_map_


def wants(event_types: list[str], event_type: str, data: dict[str, Any]) -> bool:
    if EVERY_SAMPLE_EVENT in event_types or event_type in event_types:
        return True
    return event_type == STATUS_CHANGED and f"{STATUS_CHANGED}:{data.get('to')}" in event_types


async def set_preferences(
    session: AsyncSession, actor: Actor, body: NotificationPreferencesIn
) -> NotificationPreference:
    if actor.principal_id is None:
        raise RuleViolation("Only people and API keys can choose e-mail notifications.")
    event_types = check_event_types(body.event_types)
    address = await identity.own_address(session, actor)
    if body.email is not None and str(body.email).lower() != address.lower():
        # Mail about samples goes to the account's own address only: a preference cannot send it elsewhere.
        raise InvalidInput(
            f"Notifications go to your account's own address ({address}); another address cannot be chosen.",
            errors=[{"field": "email", "message": "not your account's address"}],
        )
    preference = await get_preferences(session, actor)
    before: tuple[str | None, list[str] | None] = (None, None)
    if preference is None:
        preference = NotificationPreference(id=new_id(), tenant_id=actor.tenant_id, principal_id=actor.principal_id)
        session.add(preference)
    else:
        before = (preference.email, list(preference.event_types))
    changes: dict[str, tuple[Any, Any]] = {}
    if before[0] != address:
        # The audit trail keeps masked addresses; the preference row keeps the real one, sealed.
        changes["email"] = (crypto.mask_email(before[0]) if before[0] else None, crypto.mask_email(address))
    if before[1] != event_types:
        changes["event_types"] = (before[1], event_types)
    if not changes:
        return preference
    preference.email = address
    preference.event_types = event_types
    preference.updated_at = utcnow()
    await session.flush()
    # Where a person's sample news goes is a security fact: redirecting it shows in the audit trail.
    await record(
        session,
        DomainEvent(
            type="notification_preferences.changed",
            aggregate_type=PREFERENCE_AGGREGATE,
            aggregate_id=preference.id,
            data={"principal_id": actor.principal_id},
            changes=changes,
        ),
        actor,
    )
    return preference


def describe(envelope: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of one notification, written to be read by a person."""
    data = envelope.get("data") or {}
    data = data if isinstance(data, dict) else {}
    label = data.get("human_id") or data.get("name") or "a sample"
    subject = f"[SeqTrack] {envelope['type']}: {label}"
    lines = [
        f"{label} {_headline(str(envelope['type']), data)}.",
        "",
        f"When: {envelope.get('occurred_at')}",
        f"By: {(envelope.get('actor') or {}).get('display')}",
    ]
    if data.get("reason"):
        lines.append(f"Reason: {data['reason']}")
    changes = data.get("changes")
    shown = {"status"} if envelope["type"] == STATUS_CHANGED else set()
    if isinstance(changes, dict):
        for field, pair in changes.items():
            old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
            if field in shown or old == new:
                continue
            lines.append(f"{field}: {_shown(new)}" if old is None else f"{field}: {_shown(old)} → {_shown(new)}")
    return subject, "\n".join(lines) + "\n"


def _headline(event_type: str, data: dict[str, Any]) -> str:
    if event_type == STATUS_CHANGED:
        before, after = data.get("from"), data.get("to")
        return f"moved from {before} to {after}" if before else f"is now {after}"
    if event_type == SampleEvent.QC_RECORDED:
        measured = " ".join(str(part) for part in (data.get("kind"), data.get("value"), data.get("unit")) if part)
        verdict = f" ({data['judgement']})" if data.get("judgement") else ""
        return f"has a QC result: {measured}{verdict}"
    if event_type == SampleEvent.STEP_UPDATED:
        return f"had step {data.get('step')} ({data.get('step_name')}) updated"
    if event_type == SampleEvent.CREATED:
        return "was registered"
    return "was changed"


def _shown(value: Any) -> str:
    return "(none)" if value is None or value == "" else str(value)


def may_read(reader: Actor, data: dict[str, Any]) -> bool:
    if not reader.can(Permission.SAMPLES_READ):
        return False
    if reader.sees_only_own_labs:
        lab = data.get("lab_id")
        return lab is not None and any(str(lab) == str(own) for own in reader.lab_ids)
    return True


async def _chosen_preferences(session: AsyncSession, envelope: dict[str, Any]) -> list[NotificationPreference]:
    event_type = str(envelope["type"])
    tenant_id = uuid.UUID(str(envelope["tenant_id"]))
    data = envelope.get("data")
    data = data if isinstance(data, dict) else {}
    rows = await session.scalars(select(NotificationPreference).where(NotificationPreference.tenant_id == tenant_id))
    return [preference for preference in rows.all() if wants(preference.event_types, event_type, data)]


async def anyone_subscribed(session: AsyncSession, envelope: dict[str, Any]) -> bool:
    return bool(await _chosen_preferences(session, envelope))


@consumers.consumer("email_notifications", handles=[f"{NOTIFIABLE_PREFIX}*"], concerned=anyone_subscribed)
async def notify_subscribers(session: AsyncSession, envelope: dict[str, Any]) -> None:
    event_type = str(envelope["type"])
    tenant_id = uuid.UUID(str(envelope["tenant_id"]))
    data = envelope.get("data")
    data = data if isinstance(data, dict) else {}
    chosen = await _chosen_preferences(session, envelope)
    if not chosen:
        return
    try:
        tenant = await identity.get_tenant(session, tenant_id)
    except TenantNotFound:
        return
    if tenant.status != "active":
        return
    readers = await identity.readers(session, tenant_id, [preference.principal_id for preference in chosen])
    subject, body = describe(envelope)
    for preference in chosen:
        reader = readers.get(preference.principal_id)
        if reader is None or not may_read(reader.actor, data):
            log.info("e-mail notification withheld", principal_id=str(preference.principal_id), event_type=event_type)
            continue
        await jobs_service.enqueue(
            # Sealed: the job ledger keeps arguments (and dead letters) for days.
            session,
            SEND_TASK,
            {"to": crypto.seal(reader.address), "subject": subject, "body": body},
            tenant_id=tenant_id,
        )
