"""Passwords attackers guess first are refused, and the refusal says why (ASVS 2.1.7)."""

from __future__ import annotations

import httpx
import pytest

from seqtrack.identity import passwords
from seqtrack.identity.errors import WeakPassword
from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.identity import make_member, make_tenant
from tests.identity.helpers import bearer

COMMON = ["password1234", "123456789012", "Password123!", "qwertyuiop12", "letmein2024!"]


@pytest.mark.parametrize("password", COMMON)
def test_common_and_breached_looking_passwords_are_refused_saying_why(password: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        passwords.check_password_rules(password, email="pat@uni.example")
    message = refused.value.extra["errors"][0]["message"]
    assert message.startswith("is too easy to guess: "), message
    assert len(message) > len("is too easy to guess: ") + 10


def test_a_password_built_from_the_email_address_is_refused() -> None:
    # Accepted on its own; guessable once the attacker knows whose account it is.
    passwords.check_password_rules("genomics2024!", email="pat@uni.example")
    with pytest.raises(WeakPassword):
        passwords.check_password_rules("genomics2024!", email="ada.okafor@genomics.example")


@pytest.mark.parametrize("password", ["ecoli-lab-bench-42!", "correct horse battery staple", "kT9#vQ2m!xLp"])
def test_passwords_that_are_hard_to_guess_are_accepted(password: str) -> None:
    passwords.check_password_rules(password, email="pat@uni.example")


async def test_setting_a_common_password_over_the_api_names_the_field_and_the_reason(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    token = (await client.post("/api/v1/auth/token", json={"email": admin.email, "password": admin.password})).json()[
        "access_token"
    ]
    response = await client.post(
        "/api/v1/me/password",
        json={"current_password": admin.password, "new_password": "Password123!"},
        headers=bearer(token),
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "new_password"
    assert "too easy to guess" in response.json()["detail"]
