"""Identity HTTP API: log-in and tokens, who am I, the facility, users, labs, API keys."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from seqtrack.identity import login, recovery, service, views
from seqtrack.identity.cookies import clear_session_cookies, session_token, set_session_cookies
from seqtrack.identity.deps import (
    CanManageKeys,
    CanManageTenant,
    CanManageUsers,
    CanReadUsers,
    CurrentActor,
    Limiter,
    client_address,
)
from seqtrack.identity.models import Lab
from seqtrack.identity.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyList,
    ApiKeyOut,
    LabIn,
    LabList,
    LabOut,
    LabPatch,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    PasswordResetRequested,
    ProfileOut,
    ProfilePatch,
    RefreshIn,
    SessionOut,
    TenantList,
    TenantOut,
    TenantPatch,
    TokenOut,
    UserIn,
    UserList,
    UserOut,
    UserPatch,
)
from seqtrack.platform.deps import DatabaseDep, ReadSession, WriteSession
from seqtrack.platform.etag import tag_representation
from seqtrack.platform.models import utcnow

router = APIRouter(tags=["identity"])


IfMatch = Annotated[str | None, Header(description="The ETag of your last read; required to change.")]


def _token_out(pair: login.TokenPair) -> TokenOut:
    now = utcnow()
    return TokenOut(
        access_token=pair.access_token,
        expires_in=int((pair.access_expires_at - now).total_seconds()),
        refresh_token=pair.refresh_token,
        refresh_expires_in=int((pair.refresh_expires_at - now).total_seconds()),
        tenant=pair.tenant_slug,
    )


# --- log-in ------------------------------------------------------------------------------------


@router.post("/auth/token", response_model=TokenOut)
async def issue_token(body: LoginIn, request: Request, database: DatabaseDep, limiter: Limiter) -> TokenOut:
    """Log in with e-mail and password: a short-lived access token and a rotating refresh token."""
    await limiter.check(client_address(request), body.email)
    return _token_out(await login.log_in(database, body.email, body.password, body.tenant))


@router.post("/auth/refresh", response_model=TokenOut)
async def refresh_token(body: RefreshIn, database: DatabaseDep) -> TokenOut:
    """Trade a refresh token for a new access token and the family's next refresh token."""
    return _token_out(await login.refresh(database, body.refresh_token))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshIn, database: DatabaseDep) -> Response:
    """End a log-in: its refresh tokens and access tokens stop working."""
    await login.log_out(database, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/session", response_model=SessionOut)
async def open_session(
    body: LoginIn, request: Request, response: Response, database: DatabaseDep, limiter: Limiter
) -> SessionOut:
    """Log in a browser: an HttpOnly session cookie, and a CSRF token to send back on every change."""
    await limiter.check(client_address(request), body.email)
    grant = await login.open_web_session(database, body.email, body.password, body.tenant)
    set_session_cookies(response, request, database.settings, grant)
    return SessionOut(csrf_token=grant.csrf_token, expires_at=grant.expires_at, tenant=grant.tenant_slug)


@router.delete("/auth/session", status_code=status.HTTP_204_NO_CONTENT)
async def close_session(request: Request, actor: CurrentActor, database: DatabaseDep) -> Response:
    """Log out a browser session."""
    token = session_token(request, database.settings)
    if token:
        await login.close_web_session(database, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, request, database.settings)
    return response


@router.get("/me", response_model=MeOut)
async def who_am_i(actor: CurrentActor) -> MeOut:
    """The caller as the server sees it: tenant, role, effective permissions, labs."""
    # Sorted: the same caller reads the same answer.
    return MeOut.model_validate(
        {**asdict(actor), "permissions": sorted(actor.permissions), "lab_ids": sorted(actor.lab_ids)}
    )


@router.get("/me/profile", response_model=ProfileOut)
async def my_profile(session: ReadSession, actor: CurrentActor) -> ProfileOut:
    """Your own name and e-mail, the same in every facility your account belongs to."""
    return ProfileOut.model_validate(await service.own_profile(session, actor), from_attributes=True)


@router.patch("/me/profile", response_model=ProfileOut)
async def change_my_profile(body: ProfilePatch, database: DatabaseDep, actor: CurrentActor) -> ProfileOut:
    """Change your own name, or your e-mail (with your current password)."""
    user = await service.change_own_profile(
        database, actor, display_name=body.display_name, email=body.email, current_password=body.current_password
    )
    return ProfileOut.model_validate(user, from_attributes=True)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_my_password(body: PasswordChangeIn, database: DatabaseDep, actor: CurrentActor) -> Response:
    """Change your password; every log-in made with the old one ends, this one included."""
    await service.change_password(database, actor, body.current_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/password-reset", response_model=PasswordResetRequested, status_code=status.HTTP_202_ACCEPTED)
async def ask_for_password_reset(
    body: PasswordResetIn, request: Request, database: DatabaseDep, limiter: Limiter
) -> PasswordResetRequested:
    """E-mail a one-time link to set a new password.

    The answer is the same whether or not the e-mail has an account; attempts count
    against the log-in rate limits.
    """
    await limiter.check(client_address(request), body.email)
    await recovery.request_password_reset(database, body.email)
    return PasswordResetRequested(
        detail="If an account uses this e-mail, a link to set a new password is on its way.",
        link_valid_minutes=database.settings.password_reset_minutes,
    )


@router.post("/auth/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm_password_reset(body: PasswordResetConfirmIn, database: DatabaseDep) -> Response:
    """Set a new password with the e-mailed link's token; the link is spent and every log-in ends."""
    await recovery.reset_password(database, body.token, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the facility ------------------------------------------------------------------------------


@router.get("/tenants", response_model=TenantList)
async def my_tenants(session: ReadSession, actor: CurrentActor) -> TenantList:
    """The facilities the caller may log in to (an API key: its own facility only)."""
    if actor.kind != "user" or actor.user_id is None:
        return TenantList(items=[TenantOut.model_validate(await service.get_tenant(session, actor.tenant_id))])
    tenants = await service.tenants_of_user(session, actor.user_id)
    return TenantList(items=[TenantOut.model_validate(tenant) for tenant in tenants])


@router.get("/tenants/current", response_model=TenantOut)
async def current_tenant(session: ReadSession, actor: CurrentActor, response: Response) -> TenantOut:
    """The caller's facility."""
    return tag_representation(response, TenantOut.model_validate(await service.get_tenant(session, actor.tenant_id)))


@router.patch("/tenants/current", response_model=TenantOut)
async def update_current_tenant(
    body: TenantPatch, session: WriteSession, actor: CanManageTenant, response: Response, if_match: IfMatch = None
) -> TenantOut:
    """Rename the facility or change its display settings."""
    tenant = await service.update_tenant(session, actor, name=body.name, settings=body.settings, if_match=if_match)
    return tag_representation(response, TenantOut.model_validate(tenant))


# --- users -------------------------------------------------------------------------------------


@router.get("/users", response_model=UserList)
async def list_users(session: ReadSession, actor: CanReadUsers) -> UserList:
    """Everyone with a role in the caller's facility."""
    members = await service.list_members(session, actor)
    return UserList(items=[views.user_document(user, membership, labs) for user, membership, labs in members])


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserIn, session: WriteSession, actor: CanManageUsers) -> UserOut:
    """Create an account with a role in the caller's facility."""
    user, membership = await service.add_user(session, actor, body)
    return await views.user_out(session, user, membership)


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, session: ReadSession, actor: CanReadUsers, response: Response) -> UserOut:
    """One user of the caller's facility."""
    user, membership = await service.get_member(session, actor, user_id)
    return tag_representation(response, await views.user_out(session, user, membership))


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: uuid.UUID,
    body: UserPatch,
    session: WriteSession,
    actor: CanManageUsers,
    response: Response,
    if_match: IfMatch = None,
) -> UserOut:
    """Change a user's status, role or labs in this facility (the name only of an account of this facility alone)."""
    user, membership = await service.update_member(
        session,
        actor,
        user_id,
        display_name=body.display_name,
        status=body.status,
        role=body.role,
        lab_ids=body.lab_ids,
        if_match=if_match,
    )
    return tag_representation(response, await views.user_out(session, user, membership))


@router.post("/users/{user_id}/unlock", response_model=UserOut)
async def unlock_user(user_id: uuid.UUID, session: WriteSession, actor: CanManageUsers) -> UserOut:
    """Lift a lockout after repeated failed log-ins before it runs out."""
    return await views.user_out(session, *await recovery.unlock_user(session, actor, user_id))


# --- labs --------------------------------------------------------------------------------------


@router.get("/labs", response_model=LabList)
async def list_labs(session: ReadSession, actor: CurrentActor) -> LabList:
    """The facility's labs; a submitter sees the labs they belong to."""
    return LabList(items=[LabOut.model_validate(lab) for lab in await service.list_labs(session, actor)])


@router.post("/labs", response_model=LabOut, status_code=status.HTTP_201_CREATED)
async def create_lab(body: LabIn, session: WriteSession, actor: CanManageUsers) -> Lab:
    """Add a lab or project to the facility."""
    return await service.create_lab(session, actor, name=body.name, code=body.code)


@router.get("/labs/{lab_id}", response_model=LabOut)
async def get_lab(lab_id: uuid.UUID, session: ReadSession, actor: CurrentActor, response: Response) -> LabOut:
    """One lab of the facility."""
    return tag_representation(response, LabOut.model_validate(await service.get_lab(session, actor, lab_id)))


@router.patch("/labs/{lab_id}", response_model=LabOut)
async def update_lab(
    lab_id: uuid.UUID,
    body: LabPatch,
    session: WriteSession,
    actor: CanManageUsers,
    response: Response,
    if_match: IfMatch = None,
) -> LabOut:
    """Rename a lab or change its code."""
    lab = await service.update_lab(session, actor, lab_id, name=body.name, code=body.code, if_match=if_match)
    return tag_representation(response, LabOut.model_validate(lab))


# --- API keys ----------------------------------------------------------------------------------


@router.get("/api-keys", response_model=ApiKeyList)
async def list_api_keys(session: ReadSession, actor: CanManageKeys) -> ApiKeyList:
    """The caller's API keys (all of the facility's for a user manager); never their secrets."""
    return ApiKeyList(items=[ApiKeyOut.model_validate(key) for key in await service.list_api_keys(session, actor)])


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(body: ApiKeyIn, session: WriteSession, actor: CanManageKeys) -> ApiKeyCreated:
    """Create a key with some of the caller's permissions; the secret is in this answer only."""
    key, secret = await service.create_api_key(
        session, actor, name=body.name, permissions=body.permissions, expires_at=body.expires_at
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=secret)


@router.delete("/api-keys/{api_key_id}", response_model=ApiKeyOut)
async def revoke_api_key(api_key_id: uuid.UUID, session: WriteSession, actor: CanManageKeys) -> ApiKeyOut:
    """Revoke a key; it stops working with the next request."""
    return ApiKeyOut.model_validate(await service.revoke_api_key(session, actor, api_key_id))
