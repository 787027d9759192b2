"""Admin pages for the work that leaves the facility: webhooks with their deliveries, and dead-letter jobs."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.integrations import webhooks
from seqtrack.integrations.schemas import WebhookIn
from seqtrack.jobs import service as jobs_service
from seqtrack.jobs.states import JobState
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.samples.events import CATALOGUE
from seqtrack.web.admin import admin_render, forget_once, show_once, take_once
from seqtrack.web.forms import PageForm, Refusal, form_page

router = APIRouter(prefix="/admin", include_in_schema=False)

CanManageWebhooks = Annotated[Actor, Depends(require(Permission.WEBHOOKS_MANAGE))]
CanReadJobs = Annotated[Actor, Depends(require(Permission.JOBS_READ))]
CanManageJobs = Annotated[Actor, Depends(require(Permission.JOBS_MANAGE))]

DELIVERIES_SHOWN = 50


# --- webhooks ---------------------------------------------------------------------------------


async def _webhooks_page(
    request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    context = {
        "webhooks": await webhooks.list_webhooks(session, actor),
        "catalogue": CATALOGUE,
        "created": take_once(request, "webhook"),
        "form": refusal.form if refusal else {},
    }
    return forget_once(admin_render(request, actor, "admin/webhooks.html", context, refusal), request)


WebhooksForm = Annotated[
    PageForm,
    form_page(router, "/webhooks", _webhooks_page, read=Permission.WEBHOOKS_MANAGE, write=Permission.WEBHOOKS_MANAGE),
]


@router.post("/webhooks")
async def create_webhook(
    request: Request,
    page: WebhooksForm,
    url: Annotated[str, Form(max_length=2000)],
    event_types: Annotated[list[str], Form()] = [],  # noqa: B006  # FastAPI copies form defaults
    description: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    async def work() -> Response:
        body = WebhookIn.model_validate(
            {"url": url.strip(), "event_types": event_types, "description": description.strip() or None}
        )
        async with page.database.write_session() as session:
            webhook, secret = await webhooks.create_webhook(session, page.actor, body, page.database.settings)
        response = RedirectResponse("/admin/webhooks", status_code=303)
        show_once(response, request, "webhook", webhook.id, secret)
        return response

    entered = {"url": url, "description": description, "event_types": event_types}
    return await page.submit(work, status_code=400, form=entered)


async def _webhook_page(
    request: Request,
    actor: Actor,
    webhook_id: uuid.UUID,
    session: AsyncSession,
    refusal: Refusal | None = None,
    *,
    cursor: uuid.UUID | None = None,
) -> Response:
    webhook = await webhooks.get_webhook(session, actor, webhook_id)
    deliveries, next_cursor = await webhooks.list_deliveries(
        session, actor, webhook_id, limit=DELIVERIES_SHOWN, cursor=cursor
    )
    context = {
        "webhook": webhook,
        "deliveries": deliveries,
        "next_cursor": next_cursor,
        "done": request.query_params.get("done"),
    }
    return admin_render(request, actor, "admin/webhook.html", context, refusal)


async def _webhook_form(
    request: Request, webhook_id: uuid.UUID, database: DatabaseDep, actor: CanManageWebhooks
) -> PageForm:
    return PageForm(database, actor, partial(_webhook_page, request, actor, webhook_id))


WebhookForm = Annotated[PageForm, Depends(_webhook_form)]


@router.get("/webhooks/{webhook_id}")
async def webhook_page(
    request: Request,
    webhook_id: uuid.UUID,
    session: ReadSession,
    actor: CanManageWebhooks,
    cursor: uuid.UUID | None = None,
) -> Response:
    return await _webhook_page(request, actor, webhook_id, session, cursor=cursor)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(webhook_id: uuid.UUID, delivery_id: uuid.UUID, page: WebhookForm) -> Response:
    return await page.write(
        lambda session: webhooks.redeliver(session, page.actor, webhook_id, delivery_id),
        f"/admin/webhooks/{webhook_id}?done=redelivered",
        status_code=404,
    )


# Enabling and deleting refuse only an unknown webhook: the problem page says so, there is no form to show again.
@router.post("/webhooks/{webhook_id}/enable")
async def enable_webhook(webhook_id: uuid.UUID, database: DatabaseDep, actor: CanManageWebhooks) -> Response:
    async with database.write_session() as session:
        await webhooks.enable_webhook(session, actor, webhook_id)
    return RedirectResponse(f"/admin/webhooks/{webhook_id}?done=enabled", status_code=303)


@router.post("/webhooks/{webhook_id}/delete")
async def delete_webhook(webhook_id: uuid.UUID, database: DatabaseDep, actor: CanManageWebhooks) -> Response:
    async with database.write_session() as session:
        await webhooks.delete_webhook(session, actor, webhook_id)
    return RedirectResponse("/admin/webhooks", status_code=303)


# --- dead-letter jobs -------------------------------------------------------------------------


async def _jobs_page(request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None) -> Response:
    cursor_text = request.query_params.get("cursor", "")
    try:
        cursor = uuid.UUID(cursor_text) if cursor_text else None
    except ValueError:
        cursor = None
    rows, next_cursor = await jobs_service.list_jobs(
        session, actor, state=JobState.DEAD, task_name=None, limit=50, cursor=cursor
    )
    context = {
        "jobs": rows,
        "next_cursor": next_cursor,
        "can_retry": actor.can(Permission.JOBS_MANAGE),
        "retried": request.query_params.get("retried"),
    }
    return admin_render(request, actor, "admin/jobs.html", context, refusal)


JobsForm = Annotated[
    PageForm, form_page(router, "/jobs", _jobs_page, read=Permission.JOBS_READ, write=Permission.JOBS_MANAGE)
]


@router.post("/jobs/{job_id}/retry")
async def retry_job(job_id: uuid.UUID, page: JobsForm) -> Response:
    async def work() -> str:
        async with page.database.write_session() as session:
            job = await jobs_service.retry_dead_job(session, job_id, page.actor)
            return f"/admin/jobs?retried={job.task}"

    return await page.submit(work, status_code=409)
