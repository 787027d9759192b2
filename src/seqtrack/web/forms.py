"""What every form handler needs: where to go next, a refusal in words beside its fields, and the page again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.database import Database
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.platform.errors import DomainError, InvalidInput


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: a sign-in link must not send anyone elsewhere."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def require_reason(reason: str, why: str) -> None:
    """Refuse a move whose reason box was left empty, saying ``why`` it is needed beside the box."""
    if not reason.strip():
        raise InvalidInput(why, errors=[{"field": "reason", "message": "required"}])


@dataclass
class FormProblem:
    """A refused form: the message above it, and one message per field beside the field."""

    message: str
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, error: DomainError) -> FormProblem:
        fields: dict[str, str] = {}
        for item in error.extra.get("errors") or []:
            if isinstance(item, dict) and item.get("field"):
                fields[str(item["field"])] = str(item.get("message", "invalid"))
        if isinstance(error.extra.get("field"), str):
            fields[error.extra["field"]] = error.detail
        return cls(error.detail, fields)

    @classmethod
    def from_validation(cls, error: ValidationError) -> FormProblem:
        details = error.errors(include_url=False)
        fields = {str(detail["loc"][-1]): detail["msg"] for detail in details if detail["loc"]}
        return cls("Some fields need attention.", fields)


@dataclass(frozen=True)
class Refusal:
    """A refused form as its page shows it again: why, what was typed, and the answer's status."""

    problem: FormProblem
    status_code: int = 422
    form: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, error: DomainError | ValidationError, status_code: int = 422, form: Mapping[str, Any] | None = None
    ) -> Refusal:
        problem = FormProblem.from_validation(error) if isinstance(error, ValidationError) else FormProblem.of(error)
        return cls(problem, status_code, form or {})


# A form's page drawn again from a fresh read, with a refusal on it.
RefusedPage = Callable[[AsyncSession, Refusal], Awaitable[Response]]


@dataclass(frozen=True)
class PageForm:
    """A form posted from a page: who posts it, where its writes go, and the page that explains a refusal.

    Each write opens its own unit of work, so a refusal is rolled back before the
    page is read again to explain it.
    """

    database: Database
    actor: Actor
    page: RefusedPage

    async def refuse(self, refusal: Refusal) -> Response:
        async with self.database.read_session() as session:
            return await self.page(session, refusal)

    async def submit(
        self,
        work: Callable[[], Awaitable[str | Response]],
        *,
        status_code: int = 422,
        form: Mapping[str, Any] | None = None,
    ) -> Response:
        """Post → redirect → get: do the work and go where it says, or show the page with why it was refused.

        The work names the next page, or answers itself (a redirect that carries a cookie).
        """
        try:
            answer = await work()
        except (ValidationError, DomainError) as error:
            return await self.refuse(Refusal.of(error, status_code, form))
        return RedirectResponse(answer, status_code=303) if isinstance(answer, str) else answer

    async def write(
        self, change: Callable[[AsyncSession], Awaitable[object]], then: str, *, status_code: int = 422
    ) -> Response:
        """One change in a unit of work of its own, then the page at ``then``."""

        async def work() -> str:
            async with self.database.write_session() as session:
                await change(session)
            return then

        return await self.submit(work, status_code=status_code)


# A page with forms on it, as its handlers draw it: for this request and person, from a session, maybe refused.
Page = Callable[[Request, Actor, AsyncSession, Refusal | None], Awaitable[Response]]


def form_page(router: APIRouter, path: str, page: Page, *, read: Permission, write: Permission) -> Any:
    """Serve ``page`` at ``path`` to whoever holds ``read``; return the dependency of the forms posted from it.

    The forms' handlers take the :class:`PageForm` (``Annotated[PageForm, form_page(...)]``),
    open to whoever holds ``write``; a refusal draws ``page`` again.
    """

    async def show(request: Request, session: ReadSession, actor: Actor = Depends(require(read))) -> Response:
        return await page(request, actor, session, None)

    async def page_form(request: Request, database: DatabaseDep, actor: Actor = Depends(require(write))) -> PageForm:
        return PageForm(database, actor, partial(page, request, actor))

    router.add_api_route(path, show, methods=["GET"], name=page.__name__.lstrip("_"))
    return Depends(page_form)
