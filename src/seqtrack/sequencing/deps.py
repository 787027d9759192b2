"""Permission and request-shape dependencies of the sequencing routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.deps import WriteSession
from seqtrack.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT
from seqtrack.platform.settings_routes import SettingsAccess
from seqtrack.samples.deps import signature_in_body
from seqtrack.samples.service import PresentedSignature
from seqtrack.sequencing import service
from seqtrack.sequencing.lifecycle import FlowCellState, RunState

CanRead = Annotated[Actor, Depends(require(Permission.SEQUENCING_READ))]
CanWrite = Annotated[Actor, Depends(require(Permission.SEQUENCING_WRITE))]
# Who may read the facility's warranty pore counts and who may change them.
SETTINGS_ACCESS = SettingsAccess(read=require(Permission.SEQUENCING_READ), change=require(Permission.SEQUENCING_WRITE))


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=1000)


class FlowCellQuery(PageQuery):
    state: list[FlowCellState] = Field(default_factory=list, description="Repeat to match any of several states.")
    below_warranty: bool | None = Field(None, description="Only flow cells whose last check was under warranty.")


class RunQuery(PageQuery):
    state: list[RunState] = Field(default_factory=list, description="Repeat to match any of several states.")


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


async def _page(query: Annotated[PageQuery, Query()]) -> PageRequest:
    return PageRequest(query.limit, query.cursor)


async def _flow_cells(query: Annotated[FlowCellQuery, Query()]) -> FlowCellQuery:
    return query


async def _runs(query: Annotated[RunQuery, Query()]) -> RunQuery:
    return query


Paged = Annotated[PageRequest, Depends(_page)]
FlowCellList = Annotated[FlowCellQuery, Depends(_flow_cells)]
RunList = Annotated[RunQuery, Depends(_runs)]


async def _presented_signature(request: Request, actor: CanWrite) -> PresentedSignature | None:
    # Starting a run releases its samples to sequencing, a move the facility may
    # require signed; identity checks the password, never inside a transaction.
    return await signature_in_body(request, actor)


Signature = Annotated[PresentedSignature | None, Depends(_presented_signature)]


# Resolved after the permission check and before the body is validated: a flow
# cell or run of another facility answers 404 whatever was sent.
async def _flow_cell_to_write(flow_cell_id: uuid.UUID, session: WriteSession, actor: CanWrite) -> uuid.UUID:
    await service.get_flow_cell(session, actor, flow_cell_id)
    return flow_cell_id


async def _run_to_write(run_id: uuid.UUID, session: WriteSession, actor: CanWrite) -> uuid.UUID:
    await service.get_run(session, actor, run_id)
    return run_id


async def _run_to_move(run_id: uuid.UUID, _signature: Signature, session: WriteSession, actor: CanWrite) -> uuid.UUID:
    # The signature is checked first: its argon2 must not run inside the unit of work this opens.
    await service.get_run(session, actor, run_id)
    return run_id


FlowCellToWrite = Annotated[uuid.UUID, Depends(_flow_cell_to_write)]
RunToWrite = Annotated[uuid.UUID, Depends(_run_to_write)]
RunToMove = Annotated[uuid.UUID, Depends(_run_to_move)]
