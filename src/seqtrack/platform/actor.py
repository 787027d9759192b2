"""Who is acting: the one value every service receives alongside its session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from seqtrack.platform.permissions import Permission, Role

# Security events without a tenant (a log-in attempt for an unknown e-mail) are
# chained under this id so the audit trail still records them.
SYSTEM_TENANT_ID = uuid.UUID(int=0)

ActorKind = Literal["user", "api_key", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    tenant_id: uuid.UUID
    kind: ActorKind
    principal_id: uuid.UUID | None
    display: str
    permissions: frozenset[Permission]
    role: Role | None = None
    user_id: uuid.UUID | None = None
    # Labs whose samples a submitter may see; ignored for facility roles.
    lab_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def sees_only_own_labs(self) -> bool:
        return self.role is Role.SUBMITTER

    @classmethod
    def system(cls, tenant_id: uuid.UUID, display: str = "system") -> Actor:
        """The actor for work no person started: jobs, the relay, scheduled tasks."""
        return cls(
            tenant_id=tenant_id,
            kind="system",
            principal_id=None,
            display=display,
            permissions=frozenset(Permission),
        )
