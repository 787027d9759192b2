"""HTTP helpers for identity route tests."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from seqtrack.audit.models import AuditEntry
from seqtrack.platform.database import Database
from tests.fixtures.identity import Member


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def access_token(client: httpx.AsyncClient, member: Member) -> str:
    response = await client.post("/api/v1/auth/token", json={"email": member.email, "password": member.password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def audit_actions(database: Database, entity_id: uuid.UUID) -> list[str]:
    async with database.read_session() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == entity_id).order_by(AuditEntry.sequence)
        )
        return list(rows.all())


async def patch(client: httpx.AsyncClient, url: str, body: dict[str, object], token: str) -> httpx.Response:
    """Read, then change with If-Match, as a careful client does."""
    read = await client.get(url, headers=bearer(token))
    assert read.status_code == 200, read.text
    return await client.patch(url, json=body, headers={**bearer(token), "If-Match": read.headers["etag"]})
