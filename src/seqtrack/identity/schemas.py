"""Request and response bodies of the identity API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from seqtrack.platform.permissions import Permission, Role
from seqtrack.platform.schemas import Incoming

Password = Field(min_length=1, max_length=1024)


class LoginIn(Incoming):
    # Any string: an unknown or odd e-mail gets the same 401 as a wrong password.
    email: str = Field(min_length=1, max_length=320)
    password: str = Password
    tenant: str | None = Field(
        default=None,
        max_length=63,
        description="Facility slug; without it, the facility this account last signed in to (else its first).",
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    tenant: str


class RefreshIn(Incoming):
    refresh_token: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    csrf_token: str
    expires_at: datetime
    tenant: str


class MeOut(BaseModel):
    kind: str
    principal_id: uuid.UUID | None
    user_id: uuid.UUID | None
    display: str
    tenant_id: uuid.UUID
    role: Role | None
    permissions: list[Permission]
    lab_ids: list[uuid.UUID]


class PasswordChangeIn(Incoming):
    current_password: str = Password
    new_password: str = Password


class PasswordResetIn(Incoming):
    # Any string: an e-mail without an account gets the same answer as one with.
    email: str = Field(min_length=1, max_length=320)


class PasswordResetRequested(BaseModel):
    detail: str
    link_valid_minutes: int


class PasswordResetConfirmIn(Incoming):
    token: str = Field(min_length=1, max_length=200, description="The token from the e-mailed link.")
    new_password: str = Password


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    status: str
    settings: dict[str, Any]


class TenantList(BaseModel):
    items: list[TenantOut]
    next_cursor: str | None = None


class TenantPatch(Incoming):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: dict[str, Any] | None = None


class LabIn(Incoming):
    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=40)


class LabPatch(Incoming):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=40)


class LabOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    code: str | None
    created_at: datetime


class LabList(BaseModel):
    items: list[LabOut]
    next_cursor: str | None = None


class UserIn(Incoming):
    email: EmailStr = Field(max_length=320)
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Password
    role: Role
    lab_ids: list[uuid.UUID] = Field(default_factory=list)


class UserPatch(Incoming):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    status: Literal["active", "disabled"] | None = None
    role: Role | None = None
    lab_ids: list[uuid.UUID] | None = None


class ProfilePatch(Incoming):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = Field(default=None, max_length=320)
    current_password: str | None = Field(
        default=None, min_length=1, max_length=1024, description="Required to change the e-mail."
    )


class ProfileOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    status: str
    role: Role
    lab_ids: list[uuid.UUID]
    locked: bool
    last_login_at: datetime | None = Field(description="The last sign-in to this facility (not to others).")
    created_at: datetime = Field(description="When the person joined this facility.")


class UserList(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = None


class ApiKeyIn(Incoming):
    name: str = Field(min_length=1, max_length=200)
    permissions: list[Permission] = Field(min_length=1)
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    permissions: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret; shown this once and never again.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None = None
