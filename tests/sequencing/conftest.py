"""Every sequencing test acts as a real technician of a real facility (signatures need a password)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from tests.fixtures.browser import browser, live_server
from tests.fixtures.identity import Member, make_member, make_tenant
from tests.fixtures.samples import act_as

__all__ = ["browser", "live_server"]


@pytest.fixture
async def technician(app: FastAPI, database: Database) -> Member:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    act_as(app, member.actor)
    return member
