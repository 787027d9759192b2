"""Webhook signatures in the style of Standard Webhooks, and secrets encrypted at rest.

``webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``,
keyed with the bytes of the ``whsec_…`` secret. Receivers check the timestamp
against their clock to refuse replays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from cryptography.fernet import Fernet

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    moment = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(moment),
        "webhook-signature": sign(secret, message_id, moment, body),
        "content-type": "application/json",
    }


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_seconds: int = 300) -> bool:
    """What a receiver does; SeqTrack's tests use it to check what they received."""
    message_id = headers["webhook-id"]
    timestamp = int(headers["webhook-timestamp"])
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, message_id, timestamp, body)
    offered = headers["webhook-signature"].split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def _fernet(signing_key: str) -> Fernet:
    # Derived, not the signing key itself: a key used for one purpose only.
    digest = hashlib.sha256(b"seqtrack/webhook-secrets/v1:" + signing_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(secret: str, signing_key: str) -> str:
    return _fernet(signing_key).encrypt(secret.encode()).decode()


def decrypt_secret(ciphertext: str, signing_key: str) -> str:
    return _fernet(signing_key).decrypt(ciphertext.encode()).decode()
