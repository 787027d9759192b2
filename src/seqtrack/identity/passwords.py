"""Password hashing (argon2id) and the password rules people are held to."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # ships no type information

from seqtrack.identity.errors import WeakPassword
from seqtrack.settings import Settings

MIN_PASSWORD_LENGTH = 12
# argon2 takes any length, but hashing megabytes per attempt is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024
# zxcvbn's score: 3 is "safely unguessable" (about 10^8 guesses or more) — a password that
# is common, breached-looking, a keyboard walk or a dictionary word with digits is below it.
MIN_GUESSABILITY_SCORE = 3
# The estimator's cost grows with length; a password this long is past any dictionary anyway.
ESTIMATED_PREFIX = 72


@dataclass(frozen=True)
class HashCost:
    memory_kib: int
    time_cost: int
    parallelism: int

    @classmethod
    def of(cls, settings: Settings) -> HashCost:
        return cls(
            memory_kib=settings.password_hash_memory_kib,
            time_cost=settings.password_hash_time_cost,
            parallelism=settings.password_hash_parallelism,
        )


@cache
def hasher(cost: HashCost) -> PasswordHasher:
    return PasswordHasher(
        time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism, type=Type.ID
    )


async def hash_password(password: str, cost: HashCost) -> str:
    # Hashing is deliberately slow; off the event loop it does not stall other requests.
    return await asyncio.to_thread(hasher(cost).hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Check against the cost recorded in the hash itself, whatever today's settings are."""
    return await asyncio.to_thread(_verify, password_hash, password)


_VERIFIER = PasswordHasher(type=Type.ID)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _VERIFIER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, cost: HashCost) -> bool:
    try:
        return hasher(cost).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def dummy_hash(cost: HashCost) -> str:
    """A hash of a random throw-away value, computed once per process and cost.

    Log-ins for unknown, disabled or locked accounts verify against it, so they
    take as long as a real wrong password and reveal nothing by timing.
    """
    return hasher(cost).hash(secrets.token_urlsafe(32))


async def burn_verification(password: str, cost: HashCost) -> None:
    await verify_password(await asyncio.to_thread(dummy_hash, cost), password)


def check_password_rules(password: str, *, email: str, field: str = "password") -> None:
    problem = None
    if len(password) < MIN_PASSWORD_LENGTH:
        problem = f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    elif len(password) > MAX_PASSWORD_LENGTH:
        problem = f"must be at most {MAX_PASSWORD_LENGTH} characters long"
    elif password.strip().lower() == email.strip().lower() or password.lower() in email.lower():
        problem = "must not be (part of) the e-mail address"
    elif len(set(password)) < 5:
        problem = "has too little variety"
    else:
        problem = _guessable(password, email)
    if problem:
        raise WeakPassword(f"The password {problem}.", errors=[{"field": field, "message": problem}])


def _guessable(password: str, email: str) -> str | None:
    """Why ``password`` is among the first guesses an attacker tries (ASVS 2.1.7), or None."""
    hints = [part for part in email.replace("@", " ").replace(".", " ").split() if part]
    estimate = zxcvbn(password[:ESTIMATED_PREFIX], user_inputs=hints)
    if estimate["score"] >= MIN_GUESSABILITY_SCORE:
        return None
    feedback = estimate["feedback"]
    why = (feedback.get("warning") or "it follows a pattern attackers try early").rstrip(".")
    advice = " ".join(feedback.get("suggestions") or [])
    return f"is too easy to guess: {why[0].lower()}{why[1:]}" + (f" ({advice.rstrip('.')})" if advice else "")
