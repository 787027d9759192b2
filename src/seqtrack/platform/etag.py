"""ETags on reads, ``If-Match`` on writes: no update is lost to a concurrent one.

A resource with a version column has the ETag ``"<id>-<version>"``; a write that
names an older version is refused with 412 instead of silently overwriting
someone else's change. A resource without one (tenants, users, labs) is tagged
by a digest of what the API shows of it, with the same 428/412 answers.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import TypeVar

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.errors import PreconditionFailed, PreconditionRequired
from seqtrack.platform.models import FacilitySettings

_VERSION = re.compile(r"[0-9]{1,18}")
Shown = TypeVar("Shown", bound=BaseModel)
Rules = TypeVar("Rules", bound=FacilitySettings)


def _required() -> PreconditionRequired:
    return PreconditionRequired("This write needs an 'If-Match' header with the ETag you read.", header="If-Match")


def _stale(current_etag: str) -> PreconditionFailed:
    return PreconditionFailed(
        "Someone changed this resource since you read it; read it again and reapply your change.",
        current_etag=current_etag,
    )


def make_etag(resource_id: uuid.UUID | str, version: int) -> str:
    return f'"{resource_id}-{version}"'


def tag_version(response: Response, resource_id: uuid.UUID | str, version: int) -> None:
    """Give the answer the ETag of this version of the resource."""
    response.headers["ETag"] = make_etag(resource_id, version)


def parse_if_match(header: str | None, resource_id: uuid.UUID | str) -> int | None:
    """The version an ``If-Match`` header names for this resource, or None for ``*``.

    Raises 412 when the header names another resource or is unreadable: a client
    that sends a tag it did not get from us must not write.
    """
    if header is None or not header.strip():
        raise _required()
    value = header.strip()
    if value == "*":
        return None
    versions: list[int] = []
    prefix = f"{resource_id}-"
    for tag in value.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        # isdigit() also accepts "²" and other digits int() refuses.
        if tag.startswith(prefix) and _VERSION.fullmatch(tag[len(prefix) :]):
            versions.append(int(tag[len(prefix) :]))
    if not versions:
        raise PreconditionFailed("The 'If-Match' header does not name a version of this resource.")
    return max(versions)


def check_if_match(header: str | None, resource_id: uuid.UUID | str, current_version: int, *, required: bool) -> None:
    """Refuse the write when the client's version is not the current one."""
    if header is None and not required:
        return
    expected = parse_if_match(header, resource_id)
    if expected is not None and expected != current_version:
        raise _stale(make_etag(resource_id, current_version))


def settings_to_change(session: AsyncSession, current: Rules, header: str | None) -> Rules:
    """A facility's settings (stored, or its defaults) as the row a change writes, if the client read this version.

    The defaults are saved by their first change; adding a stored row again changes nothing.
    """
    session.add(current)
    check_if_match(header, current.tenant_id, current.version, required=True)
    return current


def representation_etag(representation: BaseModel) -> str:
    """The ETag of a resource without a version: a digest of its representation."""
    return '"' + hashlib.sha256(representation.model_dump_json().encode()).hexdigest()[:32] + '"'


def tag_representation(response: Response, representation: Shown) -> Shown:
    """Give the answer the ETag of the representation it carries; returns the representation."""
    response.headers["ETag"] = representation_etag(representation)
    return representation


def check_representation_if_match(header: str | None, current: BaseModel) -> None:
    """Refuse the write unless ``If-Match`` names the representation as it is now (or ``*``)."""
    if header is None or not header.strip():
        raise _required()
    offered = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    etag = representation_etag(current)
    if "*" not in offered and etag not in offered:
        raise _stale(etag)
