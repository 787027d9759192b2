"""How a member of a facility is shown, the same to the API and the pages."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import repository as repo
from seqtrack.identity.accounts import is_active_member, is_locked
from seqtrack.identity.models import Membership, User
from seqtrack.identity.schemas import UserOut
from seqtrack.platform.permissions import Role


async def user_out(session: AsyncSession, user: User, membership: Membership) -> UserOut:
    return user_document(user, membership, await repo.lab_ids_of(session, membership.tenant_id, user.id))


def user_document(user: User, membership: Membership, lab_ids: frozenset[uuid.UUID]) -> UserOut:
    """A member as shown, from labs already read (a list reads every member's labs at once)."""
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        status="active" if is_active_member(user, membership) else "disabled",
        role=Role(membership.role),
        lab_ids=sorted(lab_ids),
        locked=is_locked(user),
        # The membership's, not the account's: an account shared by facilities shows each only its own.
        last_login_at=membership.last_login_at,
        created_at=membership.created_at,
    )
