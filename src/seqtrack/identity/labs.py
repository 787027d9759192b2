"""Labs of a facility and who belongs to them (a submitter sees only their labs' samples)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import repository as repo
from seqtrack.identity.accounts import bump_security_version
from seqtrack.identity.changes import assign, record_changes, record_event
from seqtrack.identity.errors import (
    LabNameTaken,
    LabNotFound,
)
from seqtrack.identity.models import Lab, LabMember
from seqtrack.identity.schemas import LabOut
from seqtrack.platform.actor import Actor
from seqtrack.platform.etag import check_representation_if_match
from seqtrack.platform.models import new_id


async def create_lab(session: AsyncSession, actor: Actor, *, name: str, code: str | None = None) -> Lab:
    name = name.strip()
    labs = repo.labs(session, actor)
    if await session.scalar(labs.select().where(Lab.name == name)) is not None:
        raise LabNameTaken(f"A lab named '{name}' exists already.", field="name")
    lab = labs.add(Lab(id=new_id(), tenant_id=actor.tenant_id, name=name, code=code))
    await session.flush()
    await record_event(session, actor, "lab.created", lab.id, data={"name": name, "code": code})
    return lab


async def get_lab(session: AsyncSession, actor: Actor, lab_id: uuid.UUID, *, for_update: bool = False) -> Lab:
    lab = await repo.labs(session, actor).get(lab_id, for_update=for_update)
    if lab is None or (actor.sees_only_own_labs and lab.id not in actor.lab_ids):
        raise LabNotFound("No such lab in this facility.", lab_id=str(lab_id))
    return lab


async def list_labs(session: AsyncSession, actor: Actor) -> list[Lab]:
    labs = await repo.labs(session, actor).list(order_by=[Lab.name])
    if actor.sees_only_own_labs:
        return [lab for lab in labs if lab.id in actor.lab_ids]
    return labs


async def display_names(session: AsyncSession, actor: Actor, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the caller's facility's members among ``user_ids``, in one query; others are left out."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    return await repo.member_names(session, actor, wanted)


async def update_lab(
    session: AsyncSession,
    actor: Actor,
    lab_id: uuid.UUID,
    *,
    name: str | None = None,
    code: str | None = None,
    if_match: str | None = "*",
) -> Lab:
    """Rename a lab or change its code, if it is still as the caller read it (``if_match``)."""
    lab = await get_lab(session, actor, lab_id, for_update=True)
    check_representation_if_match(if_match, LabOut.model_validate(lab))
    name = name.strip() if name is not None else None
    if name is not None and name != lab.name:
        clash = await session.scalar(repo.labs(session, actor).select().where(Lab.name == name))
        if clash is not None:
            raise LabNameTaken(f"A lab named '{name}' exists already.", field="name")
    await record_changes(session, actor, lab, assign(lab, name=name, code=code), aggregate_type="lab")
    return lab


async def set_labs(
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID,
    lab_ids: Iterable[uuid.UUID],
    *,
    tenant_id: uuid.UUID | None = None,
) -> frozenset[uuid.UUID]:
    """Make ``user_id`` a member of exactly these labs of the tenant."""
    tenant = tenant_id or actor.tenant_id
    wanted = frozenset(lab_ids)
    known = {lab.id for lab in await repo.labs(session, tenant).list(Lab.id.in_(wanted))} if wanted else set()
    unknown = wanted - known
    if unknown:
        raise LabNotFound("No such lab in this facility.", lab_ids=sorted(str(lab) for lab in unknown))
    current = {row.lab_id: row for row in await repo.lab_members(session, tenant, user_id)}
    for lab_id in wanted - current.keys():
        session.add(LabMember(id=new_id(), tenant_id=tenant, lab_id=lab_id, user_id=user_id))
    for lab_id in current.keys() - wanted:
        await session.delete(current[lab_id])
    if wanted != current.keys():
        await session.flush()
        await bump_security_version(session, user_id)
        await record_event(
            session,
            actor,
            "user.labs_changed",
            user_id,
            changes={"labs": (sorted(map(str, current.keys())), sorted(map(str, wanted)))},
            tenant_id=tenant,
        )
    return wanted


async def lab_ids_of_user(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The labs of ``tenant_id`` whose samples ``user_id`` belongs to (what a submitter may see)."""
    return await repo.lab_ids_of(session, tenant_id, user_id)
