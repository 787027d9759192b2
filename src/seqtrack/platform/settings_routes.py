"""``GET`` and ``PATCH /settings``: how a domain serves its facility rules.

Samples, sequencing and storage keep their rules in one row per facility. Reading them
answers the row (or the defaults) with its ETag; changing them needs that ETag in
``If-Match`` and answers the changed row with the next one.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the body model and the
# permission from the routes' annotations, so they must be the domain's objects, not names.

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NamedTuple, Protocol

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.actor import Actor
from seqtrack.platform.deps import IfMatch, ReadSession, WriteSession
from seqtrack.platform.etag import tag_version
from seqtrack.platform.models import FacilitySettings


class SettingsService(Protocol):
    """A domain service module that reads and changes its facility's rules."""

    async def read_settings(self, session: AsyncSession, tenant_id: uuid.UUID, /) -> FacilitySettings: ...

    async def update_settings(
        self, session: AsyncSession, actor: Actor, body: Any, if_match: str | None, /
    ) -> FacilitySettings: ...


class SettingsAccess(NamedTuple):
    """Who may read the rules and who may change them: permission dependencies."""

    read: Callable[..., Awaitable[Actor]]
    change: Callable[..., Awaitable[Actor]]


class SettingsDocs(NamedTuple):
    """The OpenAPI descriptions of the two routes."""

    read: str
    update: str


def facility_settings_routes(
    router: APIRouter,
    service: SettingsService,
    shown_as: type[BaseModel],
    changed_by: type[BaseModel],
    access: SettingsAccess,
    docs: SettingsDocs,
) -> None:
    """Add ``GET /settings`` and ``PATCH /settings`` to ``router``."""

    def shown(response: Response, settings: FacilitySettings) -> BaseModel:
        tag_version(response, settings.tenant_id, settings.version)
        return shown_as.model_validate(settings, from_attributes=True)

    @router.get("/settings", response_model=shown_as, description=docs.read)
    async def read_settings(
        session: ReadSession, actor: Annotated[Actor, Depends(access.read)], response: Response
    ) -> BaseModel:
        return shown(response, await service.read_settings(session, actor.tenant_id))

    @router.patch("/settings", response_model=shown_as, description=docs.update)
    async def update_settings(
        body: changed_by,  # type: ignore[valid-type]  # FastAPI takes the body model from this annotation
        session: WriteSession,
        actor: Annotated[Actor, Depends(access.change)],
        response: Response,
        if_match: IfMatch = None,
    ) -> BaseModel:
        return shown(response, await service.update_settings(session, actor, body, if_match))
