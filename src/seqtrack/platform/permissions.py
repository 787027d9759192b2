"""Roles and what each may do: the single table the whole app enforces.

``docs/security.md`` prints this table; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Permission(StrEnum):
    SAMPLES_READ = "samples:read"
    SAMPLES_WRITE = "samples:write"
    SAMPLES_TRANSITION = "samples:transition"
    SAMPLES_EXPORT = "samples:export"
    # The facility's workflow: ID prefix, billing pattern, QC thresholds, steps, signed transitions.
    SAMPLES_CONFIGURE = "samples:configure"
    QC_WRITE = "qc:write"
    STORAGE_READ = "storage:read"
    STORAGE_WRITE = "storage:write"
    # Storage rules: which sample types each temperature zone may hold, capacity warning levels.
    STORAGE_CONFIGURE = "storage:configure"
    INTAKE_SUBMIT = "intake:submit"
    INTAKE_COMMIT = "intake:commit"
    SEQUENCING_READ = "sequencing:read"
    SEQUENCING_WRITE = "sequencing:write"
    AUDIT_READ = "audit:read"
    EVENTS_READ = "events:read"
    JOBS_READ = "jobs:read"
    JOBS_MANAGE = "jobs:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    APIKEYS_MANAGE = "apikeys:manage"
    TENANT_MANAGE = "tenant:manage"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    TECHNICIAN = "technician"
    SUBMITTER = "submitter"
    AUDITOR = "auditor"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MANAGER: frozenset(
        {
            P.SAMPLES_READ,
            P.SAMPLES_WRITE,
            P.SAMPLES_TRANSITION,
            P.SAMPLES_EXPORT,
            P.SAMPLES_CONFIGURE,
            P.QC_WRITE,
            P.STORAGE_READ,
            P.STORAGE_WRITE,
            P.STORAGE_CONFIGURE,
            P.INTAKE_SUBMIT,
            P.INTAKE_COMMIT,
            P.SEQUENCING_READ,
            P.SEQUENCING_WRITE,
            P.AUDIT_READ,
            P.EVENTS_READ,
            P.JOBS_READ,
            P.JOBS_MANAGE,
            P.WEBHOOKS_MANAGE,
            P.USERS_READ,
            P.APIKEYS_MANAGE,
        }
    ),
    Role.TECHNICIAN: frozenset(
        {
            P.SAMPLES_READ,
            P.SAMPLES_WRITE,
            P.SAMPLES_TRANSITION,
            P.SAMPLES_EXPORT,
            P.QC_WRITE,
            P.STORAGE_READ,
            P.STORAGE_WRITE,
            P.INTAKE_SUBMIT,
            P.INTAKE_COMMIT,
            P.SEQUENCING_READ,
            P.SEQUENCING_WRITE,
            P.EVENTS_READ,
            P.APIKEYS_MANAGE,
        }
    ),
    # Submitters see only their own labs' samples; the samples service narrows by lab.
    Role.SUBMITTER: frozenset({P.SAMPLES_READ, P.SAMPLES_EXPORT, P.INTAKE_SUBMIT, P.EVENTS_READ, P.APIKEYS_MANAGE}),
    Role.AUDITOR: frozenset(
        {
            P.SAMPLES_READ,
            P.SAMPLES_EXPORT,
            P.STORAGE_READ,
            P.SEQUENCING_READ,
            P.AUDIT_READ,
            P.EVENTS_READ,
            P.JOBS_READ,
            P.USERS_READ,
        }
    ),
}


def permissions_for(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


def api_key_permissions(granted: Iterable[str], owner_role: Role) -> frozenset[Permission]:
    """What an API key may do: what it was given, never more than its owner's role allows today.

    Names no longer in :class:`Permission` (a key older than a rename) grant nothing.
    """
    return frozenset(Permission(name) for name in granted if name in _PERMISSION_NAMES) & permissions_for(owner_role)


_PERMISSION_NAMES = frozenset(Permission._value2member_map_)
