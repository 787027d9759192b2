"""The first page after signing in."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from seqtrack.identity.deps import CurrentActor

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(actor: CurrentActor) -> RedirectResponse:
    return RedirectResponse("/samples", status_code=303)
