"""Password hashing: argon2id, cost from settings, old hashes still verify and get upgraded."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from seqtrack.identity import passwords
from seqtrack.identity.errors import WeakPassword
from seqtrack.settings import Settings
from tests.fixtures.identity import new_password


async def test_a_hash_is_argon2id_with_the_configured_cost_and_verifies_only_the_right_password() -> None:
    cost = passwords.HashCost(memory_kib=2048, time_cost=2, parallelism=1)
    password = new_password()
    hashed = await passwords.hash_password(password, cost)
    assert hashed.startswith("$argon2id$")
    assert "m=2048,t=2,p=1" in hashed
    assert await passwords.verify_password(hashed, password)
    assert not await passwords.verify_password(hashed, new_password())
    assert not await passwords.verify_password("not a hash", password)


async def test_a_hash_made_at_another_cost_still_verifies_and_asks_to_be_redone() -> None:
    old = passwords.HashCost(memory_kib=1024, time_cost=1, parallelism=1)
    new = passwords.HashCost(memory_kib=2048, time_cost=2, parallelism=1)
    password = new_password()
    hashed = await passwords.hash_password(password, old)
    assert await passwords.verify_password(hashed, password)
    assert passwords.needs_rehash(hashed, new)
    assert not passwords.needs_rehash(hashed, old)


def test_production_refuses_a_password_hash_cheaper_than_the_owasp_floor(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="PASSWORD_HASH_MEMORY_KIB"):
        Settings(
            _env_file=None,
            environment="production",
            data_dir=tmp_path,
            secret_key=secrets.token_urlsafe(48),
            password_hash_memory_kib=1024,
        )


@pytest.mark.parametrize("password", ["short", "a" * 20, "pat@uni.example", "x" * 1025])
def test_weak_passwords_are_refused_naming_the_field(password: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        passwords.check_password_rules(password, email="pat@uni.example")
    assert refused.value.extra["errors"][0]["field"] == "password"
