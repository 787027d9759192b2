"""E-mails about a person's own account: the "forgot password" link.

The identity domain records ``user.password_reset_requested`` with the reset's
id; this consumer queues one ``email.password_reset`` job for it, and the job
works out the link only when it sends, so the token is never stored in a job row.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events import consumers
from seqtrack.identity import recovery
from seqtrack.integrations.email import build_message, send
from seqtrack.jobs import registry
from seqtrack.jobs import service as jobs_service

log = structlog.get_logger("seqtrack.email")

PASSWORD_RESET_TASK = "email.password_reset"


def password_reset_text(mail: recovery.ResetMail) -> tuple[str, str]:
    subject = "[SeqTrack] Set a new password"
    body = (
        "Someone (we hope you) asked to set a new password for your SeqTrack account.\n\n"
        f"Open this link within {mail.minutes} minutes to choose one. It works once:\n\n"
        f"{mail.link}\n\n"
        "If you did not ask, ignore this e-mail: your password stays as it is.\n"
    )
    return subject, body


@registry.task(PASSWORD_RESET_TASK, max_attempts=6, timeout_seconds=60)
async def send_password_reset(ctx: registry.JobContext, *, reset_id: str) -> None:
    async with ctx.database.read_session() as session:
        mail = await recovery.reset_mail(session, ctx.settings, uuid.UUID(reset_id))
    if mail is None:
        log.info("password reset e-mail not sent: the link was used, replaced or expired", reset_id=reset_id)
        return
    subject, body = password_reset_text(mail)
    await send(ctx.settings, build_message(ctx.settings, mail.to, subject, body))


@consumers.consumer("password_reset_mail", handles=[recovery.RESET_REQUESTED])
async def queue_password_reset(session: AsyncSession, envelope: dict[str, Any]) -> None:
    data = envelope.get("data")
    reset_id = data.get("reset_id") if isinstance(data, dict) else None
    if reset_id is None:
        return
    tenant_id = uuid.UUID(str(envelope["tenant_id"]))
    await jobs_service.enqueue(session, PASSWORD_RESET_TASK, {"reset_id": str(reset_id)}, tenant_id=tenant_id)
