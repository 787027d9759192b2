"""Sign-in, facility switching, sign-out, one's own profile and password for people at a browser."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from seqtrack.identity import login, recovery, service
from seqtrack.identity.cookies import clear_session_cookies, session_token, set_session_cookies
from seqtrack.identity.deps import CurrentActor, Limiter, client_address
from seqtrack.identity.errors import InvalidToken
from seqtrack.identity.schemas import ProfilePatch
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.platform.errors import DomainError, TooManyRequests
from seqtrack.web.forms import FormProblem, Refusal, safe_next
from seqtrack.web.rendering import render

router = APIRouter(include_in_schema=False)

# Double-submit token for the sign-in form itself, so no other site can sign a browser
# into an account of its choosing (login CSRF): there is no session to bind it to yet.
SIGN_IN_COOKIE = "seqtrack_signin"


def _sign_in_page(
    request: Request,
    next_path: str,
    *,
    email: str = "",
    tenant: str = "",
    problem: FormProblem | None = None,
    notice: str | None = None,
) -> Response:
    token = secrets.token_urlsafe(24)
    context = {
        "next": next_path,
        "form_token": token,
        "email": email,
        "tenant": tenant,
        "problem": problem,
        "notice": notice,
    }
    response = render(request, "sign_in.html", context, status_code=200 if problem is None else 400)
    secure = request.url.scheme == "https" or request.app.state.settings.is_production
    response.set_cookie(SIGN_IN_COOKIE, token, max_age=3600, path="/sign-in", secure=secure, httponly=True)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str = "/", reset: str = "") -> Response:
    notice = "Your new password is set and every earlier sign-in has ended. Sign in with it." if reset else None
    return _sign_in_page(request, safe_next(next), notice=notice)


class SignInForm(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    form_token: str = Field(max_length=100)
    tenant: str = Field("", max_length=64)
    next: str = Field("/", max_length=2000)


@router.post("/sign-in")
async def sign_in(
    request: Request, database: DatabaseDep, limiter: Limiter, form: Annotated[SignInForm, Form()]
) -> Response:
    next_path = safe_next(form.next)
    typed = {"email": form.email, "tenant": form.tenant}
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), form.form_token.encode()):
        problem = FormProblem("The sign-in form had expired. Please sign in again.")
        return _sign_in_page(request, next_path, **typed, problem=problem)
    try:
        await limiter.check(client_address(request), form.email)
        grant = await login.open_web_session(database, form.email, form.password, form.tenant.strip() or None)
    except DomainError as error:
        return _sign_in_page(request, next_path, **typed, problem=FormProblem.of(error))
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookies(response, request, database.settings, grant)
    response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, actor: CurrentActor, database: DatabaseDep) -> Response:
    token = session_token(request, database.settings)
    if token:
        await login.close_web_session(database, token)
    response = RedirectResponse("/sign-in", status_code=303)
    clear_session_cookies(response, request, database.settings)
    return response


@router.get("/facility")
async def facility_picker(request: Request, session: ReadSession, actor: CurrentActor) -> Response:
    tenants = await service.tenants_of_user(session, actor.user_id) if actor.user_id else []
    current = await service.get_tenant(session, actor.tenant_id)
    return render(request, "facility.html", {"tenants": tenants, "current": current})


@router.post("/facility")
async def switch_facility(
    request: Request,
    actor: CurrentActor,
    database: DatabaseDep,
    tenant: Annotated[str, Form(max_length=64)],
) -> Response:
    token = session_token(request, database.settings)
    if token is None:
        raise InvalidToken("The session has ended; sign in again.")
    grant = await login.switch_web_session(database, token, tenant)
    response = RedirectResponse("/", status_code=303)
    set_session_cookies(response, request, database.settings, grant)
    return response


@router.get("/account/profile")
async def profile_form(request: Request, session: ReadSession, actor: CurrentActor) -> Response:
    profile = await service.own_profile(session, actor)
    entered = {"display_name": profile.display_name, "email": profile.email}
    return render(request, "account/profile.html", {"form": entered, "done": request.query_params.get("done") == "1"})


@router.post("/account/profile")
async def change_profile(request: Request, actor: CurrentActor, database: DatabaseDep) -> Response:
    form = await request.form()
    entered = {name: str(form.get(name, "")) for name in ("display_name", "email")}
    try:
        body = ProfilePatch.model_validate(
            {**entered, "current_password": str(form.get("current_password", "")) or None}
        )
        await service.change_own_profile(
            database,
            actor,
            display_name=body.display_name,
            email=body.email,
            current_password=body.current_password,
        )
    except (ValidationError, DomainError) as error:
        return render(request, "account/profile.html", {"form": entered}, Refusal.of(error, 400))
    return RedirectResponse("/account/profile?done=1", status_code=303)


@router.get("/account/password")
async def password_form(request: Request, actor: CurrentActor) -> Response:
    return render(request, "account/password.html", {"done": request.query_params.get("done") == "1"})


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


@router.post("/account/password")
async def change_password(
    request: Request, actor: CurrentActor, database: DatabaseDep, change: Annotated[PasswordChange, Form()]
) -> Response:
    try:
        await service.change_password(database, actor, change.current_password, change.new_password)
    except DomainError as error:
        return render(request, "account/password.html", refusal=Refusal.of(error, 400))
    # A password change ends every session, this one included: sign in with the new one.
    response = RedirectResponse("/sign-in?next=/account/password%3Fdone%3D1", status_code=303)
    clear_session_cookies(response, request, database.settings)
    return response


# --- forgot password --------------------------------------------------------------------------


@router.get("/forgot-password")
async def forgot_password_form(request: Request) -> Response:
    return render(request, "account/forgot.html", {"email": ""})


@router.post("/forgot-password")
async def forgot_password(
    request: Request,
    database: DatabaseDep,
    limiter: Limiter,
    email: Annotated[str, Form(max_length=320)],
) -> Response:
    try:
        await limiter.check(client_address(request), email)
    except TooManyRequests as error:
        return render(request, "account/forgot.html", {"email": email}, Refusal.of(error, 429))
    await recovery.request_password_reset(database, email)
    # The same page whether or not the address has an account: nobody learns which do.
    minutes = database.settings.password_reset_minutes
    return render(request, "account/forgot.html", {"sent_to": email.strip(), "minutes": minutes})


def _no_referrer(response: Response) -> Response:
    # The link's token is in this page's address: never hand it to another site as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/reset-password")
async def reset_password_form(request: Request, database: DatabaseDep, token: str = "") -> Response:
    try:
        user = await recovery.check_reset_token(database, token)
    except DomainError as error:
        return _no_referrer(render(request, "account/reset.html", {"token": ""}, Refusal.of(error, 400)))
    return _no_referrer(render(request, "account/reset.html", {"token": token, "email": user.email}))


@router.post("/reset-password")
async def reset_password(
    request: Request,
    database: DatabaseDep,
    token: Annotated[str, Form(max_length=200)],
    new_password: Annotated[str, Form(max_length=1024)],
    repeat_password: Annotated[str, Form(max_length=1024)],
) -> Response:
    if new_password != repeat_password:
        problem = FormProblem("The two passwords differ.", {"repeat_password": "does not match the new password"})
        return _no_referrer(
            render(request, "account/reset.html", {"problem": problem, "token": token}, status_code=400)
        )
    try:
        await recovery.reset_password(database, token, new_password)
    except DomainError as error:
        problem = FormProblem.of(error)
        keep = token if "token" not in problem.fields else ""
        return _no_referrer(render(request, "account/reset.html", {"problem": problem, "token": keep}, status_code=400))
    response = RedirectResponse("/sign-in?reset=1", status_code=303)
    # Whoever was signed in on this browser is signed out with every other session.
    clear_session_cookies(response, request, database.settings)
    return response
