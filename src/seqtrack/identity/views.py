"""How a member of a facility is shown, the same to the API and the pages."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import repository as repo
from seqtrack.identity.models import Membership, User
from seqtrack.identity.permissions import Role
from seqtrack.identity.schemas import UserOut
from seqtrack.identity.service import is_active_member, is_locked


async def user_out(session: AsyncSession, user: User, membership: Membership) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        status="active" if is_active_member(user, membership) else "disabled",
        role=Role(membership.role),
        lab_ids=sorted(await repo.lab_ids_of(session, membership.tenant_id, user.id)),
        locked=is_locked(user),
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )
