"""Admin pages for the work that leaves the facility: webhooks with their deliveries, and dead-letter jobs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.integrations import webhooks
from seqtrack.integrations.schemas import WebhookIn
from seqtrack.jobs import service as jobs_service
from seqtrack.jobs.states import JobState
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.platform.errors import DomainError
from seqtrack.web.admin import admin_render, forget_once, show_once, take_once
from seqtrack.web.forms import FormProblem

router = APIRouter(prefix="/admin", include_in_schema=False)

CanManageWebhooks = Annotated[Actor, Depends(require(Permission.WEBHOOKS_MANAGE))]
CanReadJobs = Annotated[Actor, Depends(require(Permission.JOBS_READ))]
CanManageJobs = Annotated[Actor, Depends(require(Permission.JOBS_MANAGE))]

DELIVERIES_SHOWN = 50


# --- webhooks ---------------------------------------------------------------------------------


async def _webhooks_page(
    request: Request,
    session: ReadSession,
    actor: Actor,
    *,
    problem: FormProblem | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "webhooks": await webhooks.list_webhooks(session, actor),
        "created": take_once(request, "webhook"),
        "problem": problem,
        "form": form or {},
    }
    page = admin_render(request, actor, "admin/webhooks.html", context, status_code=status_code)
    return forget_once(page, request)


@router.get("/webhooks")
async def webhooks_page(request: Request, session: ReadSession, actor: CanManageWebhooks) -> Response:
    return await _webhooks_page(request, session, actor)


@router.post("/webhooks")
async def create_webhook(
    request: Request,
    database: DatabaseDep,
    actor: CanManageWebhooks,
    url: Annotated[str, Form(max_length=2000)],
    event_types: Annotated[str, Form(max_length=5000)],
    description: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    entered = {"url": url, "event_types": event_types, "description": description}
    try:
        body = WebhookIn.model_validate(
            {
                "url": url.strip(),
                "event_types": [name.strip() for name in event_types.replace("\n", ",").split(",") if name.strip()],
                "description": description.strip() or None,
            }
        )
        async with database.write_session() as session:
            webhook, secret = await webhooks.create_webhook(session, actor, body, database.settings)
            webhook_id = webhook.id
    except (DomainError, ValidationError) as error:
        problem = FormProblem.from_validation(error) if isinstance(error, ValidationError) else FormProblem.of(error)
        async with database.read_session() as session:
            return await _webhooks_page(request, session, actor, problem=problem, form=entered, status_code=400)
    response = RedirectResponse("/admin/webhooks", status_code=303)
    show_once(response, request, "webhook", webhook_id, secret)
    return response


async def _webhook_page(
    request: Request,
    session: ReadSession,
    actor: Actor,
    webhook_id: uuid.UUID,
    *,
    cursor: uuid.UUID | None = None,
    problem: FormProblem | None = None,
    status_code: int = 200,
) -> Response:
    webhook = await webhooks.get_webhook(session, actor, webhook_id)
    deliveries, next_cursor = await webhooks.list_deliveries(
        session, actor, webhook_id, limit=DELIVERIES_SHOWN, cursor=cursor
    )
    context = {
        "webhook": webhook,
        "deliveries": deliveries,
        "next_cursor": next_cursor,
        "problem": problem,
        "done": request.query_params.get("done"),
    }
    return admin_render(request, actor, "admin/webhook.html", context, status_code=status_code)


@router.get("/webhooks/{webhook_id}")
async def webhook_page(
    request: Request,
    webhook_id: uuid.UUID,
    session: ReadSession,
    actor: CanManageWebhooks,
    cursor: uuid.UUID | None = None,
) -> Response:
    return await _webhook_page(request, session, actor, webhook_id, cursor=cursor)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(
    request: Request, webhook_id: uuid.UUID, delivery_id: uuid.UUID, database: DatabaseDep, actor: CanManageWebhooks
) -> Response:
    try:
        async with database.write_session() as session:
            await webhooks.redeliver(session, actor, webhook_id, delivery_id)
    except DomainError as error:
        async with database.read_session() as session:
            return await _webhook_page(
                request, session, actor, webhook_id, problem=FormProblem.of(error), status_code=404
            )
    return RedirectResponse(f"/admin/webhooks/{webhook_id}?done=redelivered", status_code=303)


@router.post("/webhooks/{webhook_id}/enable")
async def enable_webhook(
    request: Request, webhook_id: uuid.UUID, database: DatabaseDep, actor: CanManageWebhooks
) -> Response:
    async with database.write_session() as session:
        await webhooks.enable_webhook(session, actor, webhook_id)
    return RedirectResponse(f"/admin/webhooks/{webhook_id}?done=enabled", status_code=303)


@router.post("/webhooks/{webhook_id}/delete")
async def delete_webhook(
    request: Request, webhook_id: uuid.UUID, database: DatabaseDep, actor: CanManageWebhooks
) -> Response:
    async with database.write_session() as session:
        await webhooks.delete_webhook(session, actor, webhook_id)
    return RedirectResponse("/admin/webhooks", status_code=303)


# --- dead-letter jobs -------------------------------------------------------------------------


async def _jobs_page(
    request: Request,
    session: ReadSession,
    actor: Actor,
    *,
    problem: FormProblem | None = None,
    status_code: int = 200,
) -> Response:
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
        "problem": problem,
        "retried": request.query_params.get("retried"),
    }
    return admin_render(request, actor, "admin/jobs.html", context, status_code=status_code)


@router.get("/jobs")
async def jobs_page(request: Request, session: ReadSession, actor: CanReadJobs) -> Response:
    return await _jobs_page(request, session, actor)


@router.post("/jobs/{job_id}/retry")
async def retry_job(request: Request, job_id: uuid.UUID, database: DatabaseDep, actor: CanManageJobs) -> Response:
    try:
        async with database.write_session() as session:
            job = await jobs_service.retry_dead_job(session, job_id, actor)
            task = job.task
    except DomainError as error:
        async with database.read_session() as session:
            return await _jobs_page(request, session, actor, problem=FormProblem.of(error), status_code=409)
    return RedirectResponse(f"/admin/jobs?retried={task}", status_code=303)
