"""Files at rest: streaming AES-256-GCM in chunks, under the key id written in a small header.

A sealed file is ``MAGIC | key id length (1 byte) | key id | salt (16 bytes)`` followed by
chunks of up to CHUNK bytes, each sealed with AES-GCM under a key made for this file alone
(HKDF of the keyring's key and the salt), with the header as associated data and the
nonce ``chunk number (11 bytes) | 1 if last else 0``. The per-file key makes counted
nonces safe; the number stops chunks being reordered or dropped, the last-chunk flag
stops a file being cut short or extended. Reading never holds more than two chunks.

The key id lets ``seqtrack keys rotate`` find files sealed under an older key; a file
without the header was stored before files were sealed and reads as it is.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from seqtrack.platform.crypto import Keyring

MAGIC = b"SQTKFIL1"
CHUNK = 64 * 1024
_TAG = 16
_SALT = 16
PLAINTEXT = "plaintext"


class FileUnreadable(Exception):
    """A sealed file was altered, cut short or extended (authentication failed)."""


def _file_cipher(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(hashes.SHA256(), 32, salt, b"seqtrack stored file v1").derive(key))


def _nonce(number: int, last: bool) -> bytes:
    return number.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class FileSealer:
    """Seals a stream piece by piece: ``header``, then what ``update`` and ``finish`` return, in order."""

    def __init__(self, keyring: Keyring) -> None:
        key_id = keyring.active_id.encode()
        salt = os.urandom(_SALT)
        self.header = MAGIC + bytes([len(key_id)]) + key_id + salt
        self._cipher = _file_cipher(keyring.key(keyring.active_id), salt)
        self._pending = bytearray()
        self._number = 0

    def update(self, data: bytes) -> bytes:
        self._pending += data
        sealed = bytearray()
        # A full chunk is sealed only once more data follows: the last one must carry the flag.
        while len(self._pending) > CHUNK:
            sealed += self._seal(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]
        return bytes(sealed)

    def finish(self) -> bytes:
        sealed = self._seal(bytes(self._pending), last=True)
        self._pending.clear()
        return sealed

    def _seal(self, chunk: bytes, *, last: bool) -> bytes:
        sealed = self._cipher.encrypt(_nonce(self._number, last), chunk, self.header)
        self._number += 1
        return sealed


def _read_header(handle: BinaryIO) -> tuple[bytes, str, bytes] | None:
    magic = handle.read(len(MAGIC))
    if magic != MAGIC:
        handle.seek(0)
        return None
    length = handle.read(1)
    key_id = handle.read(length[0]) if length else b""
    salt = handle.read(_SALT)
    if not length or len(key_id) != length[0] or len(salt) != _SALT:
        raise FileUnreadable("the file's header is cut short")
    return MAGIC + length + key_id + salt, key_id.decode(), salt


def key_id_of(path: Path) -> str:
    """The key a stored file is sealed under, or PLAINTEXT for one stored before files were sealed."""
    with path.open("rb") as handle:
        header = _read_header(handle)
    return header[1] if header is not None else PLAINTEXT


def opened_chunks(path: Path, keyring: Keyring) -> Iterator[bytes]:
    """The file's content, chunk by chunk, each checked before it is given out."""
    with path.open("rb") as handle:
        header = _read_header(handle)
        if header is None:
            while chunk := handle.read(CHUNK):
                yield chunk
            return
        associated, key_id, salt = header
        cipher = _file_cipher(keyring.key(key_id), salt)
        number = 0
        block = handle.read(CHUNK + _TAG)
        while True:
            following = handle.read(CHUNK + _TAG) if len(block) == CHUNK + _TAG else b""
            try:
                yield cipher.decrypt(_nonce(number, not following), block, associated)
            except InvalidTag:
                raise FileUnreadable(f"{path.name} was altered or cut short (chunk {number})") from None
            if not following:
                return
            block, number = following, number + 1


def reseal(path: Path, keyring: Keyring, working_dir: Path) -> None:
    """Seal ``path`` again under the active key, replacing it only once the new copy is complete.

    The new copy is written in ``working_dir`` (on the same file system, outside the store)
    so that a backup walking the store never meets a partial file.
    """
    sealer = FileSealer(keyring)
    handle, name = tempfile.mkstemp(dir=working_dir)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(sealer.header)
            for chunk in opened_chunks(path, keyring):
                out.write(sealer.update(chunk))
            out.write(sealer.finish())
            out.flush()
            os.fsync(out.fileno())
        # Atomic: a reader (or a kill -9) sees the old file or the new one, never half of one.
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
