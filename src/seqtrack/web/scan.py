"""The scan box: a barcode or ID opens its record at once; anything else becomes a search.

Each domain with scannable things adds a resolver here: given the exact code, the
page that shows it, or None. The first that recognises the code wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import CurrentActor
from seqtrack.identity.permissions import Permission
from seqtrack.platform.deps import ReadSession
from seqtrack.platform.errors import NotFound
from seqtrack.samples import service as samples_service
from seqtrack.samples.errors import SampleNotFound
from seqtrack.storage import rules as storage_rules
from seqtrack.storage import service as storage_service

router = APIRouter(include_in_schema=False)

Resolver = Callable[[AsyncSession, Actor, str], Awaitable[str | None]]


async def sample_page(session: AsyncSession, actor: Actor, code: str) -> str | None:
    if not actor.can(Permission.SAMPLES_READ):
        return None
    try:
        row = await samples_service.read_sample_by_code(session, actor, code)
    except SampleNotFound:
        return None
    return f"/samples/{row.id}"


async def storage_page(session: AsyncSession, actor: Actor, code: str) -> str | None:
    """A box or position code opens the box's grid (the position highlighted); a unit code, the tree."""
    if not actor.can(Permission.STORAGE_READ) or not storage_rules.looks_like_storage_code(code):
        return None
    try:
        found = await storage_service.scan(session, actor, code)
    except NotFound:
        return None
    if found["kind"] == "position":
        return f"/storage/boxes/{found['container']['id']}?{urlencode({'highlight': found['position']})}"
    if found["kind"] == "container" and found["container"]["rows"] is not None:
        return f"/storage/boxes/{found['container']['id']}"
    if found["kind"] in ("container", "unit"):
        return "/storage"
    return None


RESOLVERS: tuple[Resolver, ...] = (storage_page, sample_page)


@router.get("/scan")
async def scan(
    session: ReadSession, actor: CurrentActor, code: Annotated[str, Query(min_length=1, max_length=200)]
) -> RedirectResponse:
    code = code.strip()
    for resolve in RESOLVERS:
        page = await resolve(session, actor, code)
        if page is not None:
            return RedirectResponse(page, status_code=303)
    return RedirectResponse(f"/samples?{urlencode({'q': code})}", status_code=303)
