"""Tenants (facilities), labs, users, memberships, refresh tokens, web sessions and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seqtrack.platform.crypto import EncryptedText
from seqtrack.platform.models import Base, IdMixin, TimestampMixin, utcnow


class Tenant(IdMixin, TimestampMixin, Base):
    """A facility: everything tenant-owned carries its id."""

    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Display things only; the samples domain owns workflow settings (ID prefix, billing pattern).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Lab(IdMixin, TimestampMixin, Base):
    """A research group or project inside a facility; submitters see their labs' samples only."""

    __tablename__ = "labs"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(40))


class User(IdMixin, TimestampMixin, Base):
    """A person. Users are global (one e-mail, one password); roles are per tenant."""

    __tablename__ = "users"

    # Encrypted at rest; found by its blind index (the keyed hash of the normalised address).
    email: Mapped[str] = mapped_column(EncryptedText())
    email_index: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Lockout state lives on the row so every replica sees the same count.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Anywhere: the person's own. Each facility sees only its membership's ``last_login_at``.
    last_login_at: Mapped[datetime | None]
    # Bumped by every change that alters what this account's credentials may do (password,
    # role, labs, status, lock, log-out, key revocation): cached callers older than it are stale.
    security_version: Mapped[int] = mapped_column(default=0, server_default="0")


class Membership(IdMixin, TimestampMixin, Base):
    """A user's role in one tenant.

    Disabling is per membership: a facility's admin can shut a person out of
    their facility, never out of another one the same account belongs to. Activity
    is per membership too: a facility sees when the person last signed in to it.
    """

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    last_login_at: Mapped[datetime | None]


class LabMember(IdMixin, Base):
    __tablename__ = "lab_members"
    __table_args__ = (UniqueConstraint("lab_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    lab_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("labs.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(IdMixin, Base):
    """One link of a rotating refresh-token family; only its SHA-256 is stored.

    A token is good once: using it marks it used and issues the next link. A
    second use of a used token means it was copied, so the whole family dies.
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    auth_time: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(IdMixin, Base):
    """A browser session behind an HttpOnly cookie; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiKey(IdMixin, Base):
    """A machine credential of one user in one tenant, limited to a subset of the owner's permissions."""

    __tablename__ = "api_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    # Keys carry 256 random bits: a plain SHA-256 cannot be brute-forced, and it is cheap per request.
    secret_hash: Mapped[str] = mapped_column(String(64))
    permissions: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PasswordReset(IdMixin, Base):
    """One e-mailed "forgot password" link: good once, for a short while; only its SHA-256 is stored."""

    __tablename__ = "password_resets"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
