"""Personal data at rest: AES-256-GCM under a key id, and a keyed blind index for exact-match search.

A protected value is stored as ``pii1:<key id>:<base64url(nonce | ciphertext | tag)>``, so a
row says which key wrote it and ``seqtrack keys rotate`` can move rows to the active key in
batches, resuming wherever it was stopped. Lookups (log-in by e-mail) use the HMAC-SHA256
of the normalised value under a separate index key, which never rotates.

Keys never come from the database: ``SEQTRACK_PII_KEYS_FILE`` (or ``SEQTRACK_PII_KEYS``) holds
``{"active": "2026-12", "keys": {"2026-12": "<base64 of 32 bytes>", ...}, "index_key": "<base64>"}``.
Without it, one key and the index key are derived from the installation's secret key, which
every replica shares already. A backup holds ciphertext only: keep the keys (and the secret
key) in your secret store, never beside the backups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import JSON, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from seqtrack.settings import Settings

PREFIX = "pii1"
_NONCE_BYTES = 12
# Binds every ciphertext to SeqTrack's personal-data use: a token cannot be replayed as another kind.
_ASSOCIATED_DATA = b"seqtrack personal data v1"


class UnknownKey(Exception):
    """A stored value names a key this process was not given."""


class KeysInvalid(ValueError):
    """The configured key file cannot be used; the message names what is wrong."""


@dataclass(frozen=True)
class Keyring:
    active_id: str
    keys: Mapping[str, bytes]
    index_key: bytes = field(repr=False)

    def encrypt(self, text: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.active_id].encrypt(nonce, text.encode(), _ASSOCIATED_DATA)
        return f"{PREFIX}:{self.active_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        key_id, payload = split(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKey(f"personal data was encrypted under key {key_id!r}, which is not configured")
        raw = base64.urlsafe_b64decode(payload)
        return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _ASSOCIATED_DATA).decode()

    def key(self, key_id: str) -> bytes:
        key = self.keys.get(key_id)
        if key is None:
            raise UnknownKey(f"data was encrypted under key {key_id!r}, which is not configured")
        return key

    @cached_property
    def _ciphers(self) -> dict[str, AESGCM]:
        # One cipher per key, built once: intake seals a cell per row of files of 100,000 rows.
        return {key_id: AESGCM(key) for key_id, key in self.keys.items()}

    def blind_index(self, text: str) -> str:
        return hmac.new(self.index_key, text.encode(), hashlib.sha256).hexdigest()


def mask_email(address: str) -> str:
    """An address as audit entries and events show it: enough to recognise, not to contact.

    ``ada.okafor@facility.org`` → ``ad…@facility.org``. History is kept forever and
    hash-chained, so it never holds the full address (the users table holds it sealed).
    """
    local, at, domain = address.strip().lower().partition("@")
    return f"{local[:2]}…{at}{domain}" if at else f"{local[:2]}…"


def seal(value: str) -> str:
    """Encrypt a value that travels outside an encrypted column (a job's arguments)."""
    return installed().encrypt(value)


def unseal(value: str) -> str:
    return installed().decrypt(value) if is_token(value) else value


def is_token(value: str) -> bool:
    return value.startswith(PREFIX + ":")


def split(token: str) -> tuple[str, str]:
    prefix, key_id, payload = token.split(":", 2)
    if prefix != PREFIX:
        raise ValueError("not an encrypted value")
    return key_id, payload


def key_id_of(token: str) -> str:
    return split(token)[0]


def keyring_for(settings: Settings) -> Keyring:
    """The keys of this installation: the configured ones, plus the one derived from the secret key."""
    secret = settings.signing_key().encode()
    derived = _derive(secret, b"seqtrack pii encryption key")
    derived_id = "s" + hashlib.sha256(derived).hexdigest()[:10]
    index_key = _derive(secret, b"seqtrack pii blind index key")
    configured = _configured(settings)
    if configured is None:
        return Keyring(derived_id, {derived_id: derived}, index_key)
    active, keys, configured_index = configured
    return Keyring(active, {derived_id: derived, **keys}, configured_index or index_key)


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def _configured(settings: Settings) -> tuple[str, dict[str, bytes], bytes | None] | None:
    if settings.pii_keys is not None:
        text, source = settings.pii_keys.get_secret_value(), "SEQTRACK_PII_KEYS"
    elif settings.pii_keys_file is not None:
        try:
            text = settings.pii_keys_file.read_text()
        except OSError as exc:
            raise KeysInvalid(f"SEQTRACK_PII_KEYS_FILE cannot be read: {exc}") from None
        source = "SEQTRACK_PII_KEYS_FILE"
    else:
        return None
    try:
        document: Any = json.loads(text)
        keys = {str(key_id): _key_bytes(value) for key_id, value in document["keys"].items()}
        active = str(document["active"])
        index = _key_bytes(document["index_key"]) if document.get("index_key") else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeysInvalid(f"{source}: not a key set ({type(exc).__name__}: {exc})") from None
    if active not in keys:
        raise KeysInvalid(f"{source}: the active key {active!r} is not among the keys")
    if any(":" in key_id or not key_id for key_id in keys):
        raise KeysInvalid(f"{source}: key ids must be non-empty and contain no ':'")
    return active, keys, index


def _key_bytes(value: object) -> bytes:
    raw = base64.b64decode(str(value), validate=True)
    if len(raw) != 32:
        raise ValueError("each key must be 32 random bytes, base64-encoded")
    return raw


def new_key() -> str:
    """A fresh key, base64-encoded, for the key file."""
    return base64.b64encode(os.urandom(32)).decode()


# The column type below runs inside SQLAlchemy, where no settings reach: each Database puts
# its installation's keyring here. New values are sealed with the most recently installed
# active key; every key installed in this process can open stored values.
_INSTALLED: Keyring | None = None
_KNOWN: dict[str, bytes] = {}


def install(keyring: Keyring) -> None:
    global _INSTALLED
    _KNOWN.update(keyring.keys)
    _INSTALLED = Keyring(keyring.active_id, {**_KNOWN, **keyring.keys}, keyring.index_key)


def installed() -> Keyring:
    if _INSTALLED is None:
        raise RuntimeError("no personal-data keys installed (a Database was not created from settings)")
    return _INSTALLED


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; reads give the plain value back.

    Equality in SQL is meaningless on it (every write has a new nonce): look rows up
    through a blind-index column instead.
    """

    impl = String(512)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        # Sealed whatever it looks like: a submitter's address written as "pii1:…" is still theirs
        # to read back, never a stored value to open.
        return None if value is None else installed().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not is_token(value):
            return value
        return installed().decrypt(value)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON document stored as one encrypted value (a document quoting personal data throughout).

    A document stored before it was sealed (plain JSON text) still reads; ``seqtrack keys
    rotate`` seals it.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return installed().encrypt(json.dumps(value, separators=(",", ":"), default=str))

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        document: dict[str, Any] = json.loads(installed().decrypt(value) if is_token(value) else value)
        return document


class PartlySealedJSON(TypeDecorator[Any]):
    """A JSON document some of whose strings are encrypted values; reads give every one back opened.

    The writer seals what is personal (it alone knows which cells are) and every string
    that merely looks like a sealed value, so anything read back in the form of one is one.
    """

    impl = JSON
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return opened(value, installed()) if value is not None else None


def opened(document: Any, keyring: Keyring) -> Any:
    """``document`` with every sealed string in it decrypted."""
    if isinstance(document, str):
        return keyring.decrypt(document) if is_token(document) else document
    if isinstance(document, list):
        return [opened(item, keyring) for item in document]
    if isinstance(document, dict):
        return {name: opened(item, keyring) for name, item in document.items()}
    return document
