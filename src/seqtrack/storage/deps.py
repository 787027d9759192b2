"""Permission dependencies of the storage routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.deps import ReadSession, WriteSession
from seqtrack.platform.settings_routes import SettingsAccess
from seqtrack.storage import service

CanRead = Annotated[Actor, Depends(require(Permission.STORAGE_READ))]
CanWrite = Annotated[Actor, Depends(require(Permission.STORAGE_WRITE))]
# Disposal also ends the sample's lifecycle, which is the samples domain's to allow.
CanTransitionSamples = Annotated[Actor, Depends(require(Permission.SAMPLES_TRANSITION))]
# Who may read the facility's storage rules and who may change them.
SETTINGS_ACCESS = SettingsAccess(read=require(Permission.STORAGE_READ), change=require(Permission.STORAGE_CONFIGURE))


async def _box_to_fill(container_id: uuid.UUID, session: WriteSession, actor: CanWrite) -> uuid.UUID:
    # Resolved after the permission check and before the body is validated: a box
    # of another facility answers 404 whatever was sent.
    await service.read_container(session, actor, container_id)
    return container_id


async def _reservation_to_release(reservation_id: uuid.UUID, session: WriteSession, actor: CanWrite) -> uuid.UUID:
    await service.read_reservation(session, actor, reservation_id)
    return reservation_id


async def _box_to_compare(container_id: uuid.UUID, session: ReadSession, actor: CanWrite) -> uuid.UUID:
    await service.read_container(session, actor, container_id)
    return container_id


BoxToCompare = Annotated[uuid.UUID, Depends(_box_to_compare)]
BoxToWrite = Annotated[uuid.UUID, Depends(_box_to_fill)]
ReservationToRelease = Annotated[uuid.UUID, Depends(_reservation_to_release)]
