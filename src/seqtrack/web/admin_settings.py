"""The facility's sample workflow settings: signed transitions, turnaround, billing codes, QC, steps.

The form carries the version it was read at; the samples service refuses a change
made from an older version (If-Match), and the page then shows what is current.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.errors import DomainError, PreconditionFailed
from seqtrack.platform.etag import make_etag
from seqtrack.samples import lifecycle, service
from seqtrack.samples.schemas import Priority, QcKind, SettingsUpdate
from seqtrack.web.admin import admin_render
from seqtrack.web.forms import FormProblem, PageForm, Refusal, form_page

router = APIRouter(prefix="/admin", include_in_schema=False)

CanConfigure = Annotated[Actor, Depends(require(Permission.SAMPLES_CONFIGURE))]

BOUNDS = (("warn", "min"), ("warn", "max"), ("fail", "min"), ("fail", "max"))


def _steps_text(step_template: list[dict[str, Any]]) -> str:
    return "\n".join(f"{step['name']}; {step['expected_hours']:g}" for step in step_template)


def _current_form(settings: Any) -> dict[str, Any]:
    """The settings as the form shows them: text in every box."""
    return {
        "id_prefix": settings.id_prefix,
        "billing_code_pattern": settings.billing_code_pattern or "",
        "signed_transitions": set(settings.signed_transitions),
        "turnaround": {str(key): f"{value:g}" for key, value in settings.turnaround_hours.items()},
        "qc": {
            str(kind): {
                f"{level}_{side}": ("" if threshold[level].get(side) is None else f"{threshold[level][side]:g}")
                for level, side in BOUNDS
            }
            for kind, threshold in settings.qc_thresholds.items()
        },
        "steps": _steps_text(settings.step_template),
    }


def _submitted_form(form: FormData) -> dict[str, Any]:
    return {
        "id_prefix": str(form.get("id_prefix", "")).strip(),
        "billing_code_pattern": str(form.get("billing_code_pattern", "")),
        "signed_transitions": {str(name) for name in form.getlist("signed_transitions")},
        "turnaround": {
            priority.value: str(form.get(f"turnaround_{priority.value}", "")).strip() for priority in Priority
        },
        "qc": {
            kind.value: {
                f"{level}_{side}": str(form.get(f"qc_{kind.value}_{level}_{side}", "")).strip()
                for level, side in BOUNDS
            }
            for kind in QcKind
        },
        "steps": str(form.get("steps", "")),
    }


class FormRefused(Exception):
    def __init__(self, problem: FormProblem) -> None:
        self.problem = problem


def _number(text: str, field: str) -> float | None:
    if text == "":
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise FormRefused(FormProblem("Some settings need attention.", {field: "not a number"})) from None


def _update_from(submitted: dict[str, Any]) -> SettingsUpdate:
    steps = []
    for number, line in enumerate(submitted["steps"].splitlines(), start=1):
        if not line.strip():
            continue
        name, separator, hours = line.rpartition(";")
        if not separator:
            raise FormRefused(
                FormProblem("Some settings need attention.", {"step_template": f"line {number}: write 'name; hours'"})
            )
        steps.append({"name": name.strip(), "expected_hours": _number(hours.strip(), "step_template")})
    turnaround = {}
    for priority, text in submitted["turnaround"].items():
        value = _number(text, f"turnaround_hours.{priority}")
        if value is not None:
            turnaround[priority] = value
    thresholds = {
        kind: {
            level: {side: _number(values[f"{level}_{side}"], f"qc_thresholds.{kind}") for side in ("min", "max")}
            for level in ("warn", "fail")
        }
        for kind, values in submitted["qc"].items()
    }
    try:
        return SettingsUpdate.model_validate(
            {
                "id_prefix": submitted["id_prefix"],
                # An empty pattern clears it: any billing code is then accepted.
                "billing_code_pattern": submitted["billing_code_pattern"].strip() or None,
                "signed_transitions": sorted(submitted["signed_transitions"]),
                "turnaround_hours": turnaround,
                "qc_thresholds": thresholds,
                "step_template": steps,
            }
        )
    except ValidationError as error:
        raise FormRefused(_validation_problem(error)) from None


def _validation_problem(error: ValidationError) -> FormProblem:
    fields = {
        ".".join(str(part) for part in detail["loc"][:2]): detail["msg"]
        for detail in error.errors(include_url=False)
        if detail["loc"]
    }
    return FormProblem("Some settings need attention.", fields)


async def _settings_page(
    request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None, *, stale: bool = False
) -> Response:
    settings = await service.read_settings(session, actor.tenant_id)
    current = _current_form(settings)
    context = {
        "settings": settings,
        # A refused change is shown as typed; a stale one gives way to what is current.
        "form": (refusal.form if refusal else None) or current,
        "current": current,
        "stale": stale,
        # In the lifecycle's order: the forward moves first, as a sample takes them.
        "transitions": list(
            dict.fromkeys(lifecycle.transition_name(t.source, t.target) for t in lifecycle.TRANSITIONS)
        ),
        "priorities": list(Priority),
        "qc_kinds": list(QcKind),
        "bounds": BOUNDS,
        "saved": request.query_params.get("saved") == "1",
    }
    return admin_render(request, actor, "admin/settings.html", context, refusal)


SettingsForm = Annotated[
    PageForm,
    form_page(
        router, "/settings", _settings_page, read=Permission.SAMPLES_CONFIGURE, write=Permission.SAMPLES_CONFIGURE
    ),
]


@router.post("/settings")
async def update_settings(request: Request, page: SettingsForm) -> Response:
    form = await request.form()
    submitted = _submitted_form(form)
    version = str(form.get("version", ""))
    try:
        body = _update_from(submitted)
    except FormRefused as refused:
        return await page.refuse(Refusal(refused.problem, 400, submitted))
    if_match = make_etag(page.actor.tenant_id, int(version) if version.isdigit() else -1)
    try:
        async with page.database.write_session() as session:
            await service.update_settings(session, page.actor, body, if_match)
    except PreconditionFailed:
        problem = FormProblem(
            "Someone changed these settings after you opened them. Nothing was saved: the form now shows "
            "the current settings; make your change again if it still applies."
        )
        stale = PageForm(page.database, page.actor, partial(_settings_page, request, page.actor, stale=True))
        return await stale.refuse(Refusal(problem, 409))
    except DomainError as error:
        return await page.refuse(Refusal.of(error, 400, submitted))
    return RedirectResponse("/admin/settings?saved=1", status_code=303)
