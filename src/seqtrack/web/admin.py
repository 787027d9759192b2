"""Admin pages for the facility's people: users and their roles, labs, API keys.

Each handler reads and writes through the identity service the API routes call;
a secret (an API key's, a webhook's) is shown on the page after the one that made it
and never again (see :func:`show_once`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import recovery, service, views
from seqtrack.identity import repository as repo
from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import CurrentActor, require
from seqtrack.identity.permissions import Permission, Role
from seqtrack.identity.schemas import ApiKeyIn, LabIn, LabPatch, UserIn
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.platform.errors import Forbidden
from seqtrack.web.forms import FormProblem, PageForm, Refusal, form_page
from seqtrack.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)

CanReadUsers = Annotated[Actor, Depends(require(Permission.USERS_READ))]
CanManageUsers = Annotated[Actor, Depends(require(Permission.USERS_MANAGE))]
CanManageKeys = Annotated[Actor, Depends(require(Permission.APIKEYS_MANAGE))]

# A secret made by a form rides to the next page in this cookie, which that page deletes:
# post → redirect → get shows it once, and a reload shows it no more.
ONCE_COOKIE = "seqtrack_once"


@dataclass(frozen=True)
class Section:
    title: str
    path: str
    permission: Permission
    about: str


SECTIONS: tuple[Section, ...] = (
    Section("Users and roles", "/admin/users", Permission.USERS_READ, "Accounts, their roles, labs and lockouts."),
    Section("Labs", "/admin/labs", Permission.USERS_READ, "Research groups and projects whose samples you hold."),
    Section("API keys", "/admin/api-keys", Permission.APIKEYS_MANAGE, "Credentials for pipelines and scripts."),
    Section("Webhooks", "/admin/webhooks", Permission.WEBHOOKS_MANAGE, "Endpoints told of events, and deliveries."),
    Section("Dead-letter jobs", "/admin/jobs", Permission.JOBS_READ, "Background work that gave up, to retry."),
    Section(
        "Sample workflow", "/admin/settings", Permission.SAMPLES_CONFIGURE, "Signatures, turnaround, QC and steps."
    ),
)
ADMIN_PERMISSIONS = tuple(section.permission for section in SECTIONS)


def sections_for(actor: Actor) -> list[Section]:
    return [section for section in SECTIONS if actor.can(section.permission)]


def admin_render(
    request: Request, actor: Actor, name: str, context: dict[str, Any], refusal: Refusal | None = None
) -> HTMLResponse:
    """An admin page, with the tabs of the sections this person may open."""
    return render(request, name, {**context, "admin_sections": sections_for(actor)}, refusal)


def show_once(response: Response, request: Request, kind: str, ident: uuid.UUID, secret: str) -> None:
    response.set_cookie(
        ONCE_COOKIE,
        f"{kind}.{ident}.{secret}",
        max_age=120,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or request.app.state.settings.is_production,
    )


def take_once(request: Request, kind: str) -> tuple[uuid.UUID, str] | None:
    value = request.cookies.get(ONCE_COOKIE, "")
    found_kind, _, rest = value.partition(".")
    ident, _, secret = rest.partition(".")
    if found_kind != kind or not secret:
        return None
    try:
        return uuid.UUID(ident), secret
    except ValueError:
        return None


def forget_once(response: Response, request: Request) -> Response:
    if ONCE_COOKIE in request.cookies:
        response.delete_cookie(ONCE_COOKIE, path="/admin")
    # The secret is on this page: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("")
async def admin_index(request: Request, actor: CurrentActor) -> Response:
    sections = sections_for(actor)
    if not sections:
        raise Forbidden("The admin pages need an administrative permission.")
    return admin_render(request, actor, "admin/index.html", {"sections": sections})


# --- users ------------------------------------------------------------------------------------


async def _users_page(
    request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    labs = await service.list_labs(session, actor)
    lab_names = {lab.id: lab.name for lab in labs}
    members = await service.list_members(session, actor)
    users = [views.user_document(user, membership, labs) for user, membership, labs in members]
    context = {
        "users": users,
        "labs": labs,
        "lab_names": lab_names,
        "roles": list(Role),
        "can_manage": actor.can(Permission.USERS_MANAGE),
        "form": refusal.form if refusal else {},
    }
    return admin_render(request, actor, "admin/users.html", context, refusal)


UsersForm = Annotated[
    PageForm, form_page(router, "/users", _users_page, read=Permission.USERS_READ, write=Permission.USERS_MANAGE)
]


@router.post("/users")
async def create_user(request: Request, page: UsersForm) -> Response:
    form = await request.form()
    entered = {name: str(form.get(name, "")) for name in ("email", "display_name", "role")}

    async def work() -> str:
        body = UserIn.model_validate(
            {
                **entered,
                "password": str(form.get("password", "")),
                "lab_ids": [str(value) for value in form.getlist("lab_ids")],
            }
        )
        async with page.database.write_session() as session:
            user, _membership = await service.add_user(session, page.actor, body)
            return f"/admin/users/{user.id}"

    return await page.submit(work, status_code=400, form=entered)


async def _user_page(
    request: Request, actor: Actor, user_id: uuid.UUID, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    user = await views.user_out(session, *await service.get_member(session, actor, user_id))
    context = {
        "user": user,
        "labs": await service.list_labs(session, actor),
        "roles": list(Role),
        "can_manage": actor.can(Permission.USERS_MANAGE),
        "is_self": user.id == actor.user_id,
        "may_rename": await service.may_rename(session, actor, user.id),
        "done": request.query_params.get("done"),
    }
    return admin_render(request, actor, "admin/user.html", context, refusal)


async def _user_form(request: Request, user_id: uuid.UUID, database: DatabaseDep, actor: CanManageUsers) -> PageForm:
    return PageForm(database, actor, partial(_user_page, request, actor, user_id))


UserForm = Annotated[PageForm, Depends(_user_form)]


@router.get("/users/{user_id}")
async def user_page(request: Request, user_id: uuid.UUID, session: ReadSession, actor: CanReadUsers) -> Response:
    return await _user_page(request, actor, user_id, session)


@router.post("/users/{user_id}")
async def update_user(request: Request, user_id: uuid.UUID, page: UserForm) -> Response:
    form = await request.form()
    try:
        role = Role(str(form.get("role", "")))
        lab_ids = [uuid.UUID(str(value)) for value in form.getlist("lab_ids")]
    except ValueError:
        problem = FormProblem("Choose a role and labs from the lists.", {"role": "not a role"})
        return await page.refuse(Refusal(problem, 400))
    display_name = str(form.get("display_name", "")).strip() or None
    return await page.write(
        lambda session: service.update_member(
            session, page.actor, user_id, display_name=display_name, role=role, lab_ids=lab_ids
        ),
        f"/admin/users/{user_id}?done=saved",
        status_code=400,
    )


@router.post("/users/{user_id}/status")
async def set_user_status(
    user_id: uuid.UUID, page: UserForm, status: Annotated[str, Form(pattern="^(active|disabled)$")]
) -> Response:
    return await page.write(
        lambda session: service.update_member(session, page.actor, user_id, status=status),
        f"/admin/users/{user_id}?done={status}",
        status_code=409,
    )


@router.post("/users/{user_id}/unlock")
async def unlock_user(user_id: uuid.UUID, page: UserForm) -> Response:
    return await page.write(
        lambda session: recovery.unlock_user(session, page.actor, user_id),
        f"/admin/users/{user_id}?done=unlocked",
        status_code=409,
    )


# --- labs -------------------------------------------------------------------------------------


async def _labs_page(request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None) -> Response:
    context = {"labs": await service.list_labs(session, actor), "can_manage": actor.can(Permission.USERS_MANAGE)}
    return admin_render(request, actor, "admin/labs.html", context, refusal)


LabsForm = Annotated[
    PageForm, form_page(router, "/labs", _labs_page, read=Permission.USERS_READ, write=Permission.USERS_MANAGE)
]


@router.post("/labs")
async def create_lab(
    page: LabsForm, name: Annotated[str, Form(max_length=1000)], code: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    async def work() -> str:
        body = LabIn.model_validate({"name": name.strip(), "code": code.strip() or None})
        async with page.database.write_session() as session:
            await service.create_lab(session, page.actor, name=body.name, code=body.code)
        return "/admin/labs"

    return await page.submit(work, status_code=400)


@router.post("/labs/{lab_id}")
async def rename_lab(lab_id: uuid.UUID, page: LabsForm, name: Annotated[str, Form(max_length=1000)]) -> Response:
    async def work() -> str:
        body = LabPatch.model_validate({"name": name.strip()})
        async with page.database.write_session() as session:
            await service.update_lab(session, page.actor, lab_id, name=body.name)
        return "/admin/labs"

    return await page.submit(work, status_code=400)


# --- API keys ---------------------------------------------------------------------------------


async def _keys_page(request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None) -> Response:
    # The new key is shown on the page its form redirects to, not beside a refusal.
    created = take_once(request, "api-key") if refusal is None else None
    keys = await service.list_api_keys(session, actor)
    owners = {user.id: user.email for user, _ in await repo.members(session, actor)} if keys else {}
    context = {"keys": keys, "owners": owners, "permissions": sorted(actor.permissions), "created": created}
    return forget_once(admin_render(request, actor, "admin/api_keys.html", context, refusal), request)


KeysForm = Annotated[
    PageForm,
    form_page(router, "/api-keys", _keys_page, read=Permission.APIKEYS_MANAGE, write=Permission.APIKEYS_MANAGE),
]


@router.post("/api-keys")
async def create_api_key(request: Request, page: KeysForm) -> Response:
    form = await request.form()
    expires = str(form.get("expires_on", "")).strip()
    try:
        # A date picked on the page means "until the end of that day", in UTC like every date shown.
        expires_at = datetime.combine(date.fromisoformat(expires), time.max, UTC) if expires else None
    except ValueError:
        problem = FormProblem("The expiry is not a date.", {"expires_on": "not a date (YYYY-MM-DD)"})
        return await page.refuse(Refusal(problem, 400))

    async def work() -> Response:
        body = ApiKeyIn.model_validate(
            {
                "name": str(form.get("name", "")),
                "permissions": [str(value) for value in form.getlist("permissions")],
                "expires_at": expires_at,
            }
        )
        async with page.database.write_session() as session:
            key, secret = await service.create_api_key(
                session, page.actor, name=body.name, permissions=body.permissions, expires_at=body.expires_at
            )
        response = RedirectResponse("/admin/api-keys", status_code=303)
        show_once(response, request, "api-key", key.id, secret)
        return response

    return await page.submit(work, status_code=400)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(key_id: uuid.UUID, page: KeysForm) -> Response:
    return await page.write(
        lambda session: service.revoke_api_key(session, page.actor, key_id), "/admin/api-keys", status_code=404
    )
