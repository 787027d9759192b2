"""Submitted files: kept sealed in the file store under the SHA-256 of their content.

The file store (and so every backup of it) holds ciphertext only. Parsers need a
plain file they can seek in (an XLSX is a ZIP archive), so each reading gets a
private copy under data_dir, outside the file store, removed as soon as it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from seqtrack.intake.errors import FileTooLarge
from seqtrack.platform import sealed_files
from seqtrack.platform.crypto import Keyring
from seqtrack.settings import Settings

FORGOTTEN_AFTER_SECONDS = 6 * 3600


def files_dir(settings: Settings) -> Path:
    # In the file store (SEQTRACK_FILES_DIR): shared by every replica, and backed up with the database.
    return settings.file_store / "intake"


def stored_path(settings: Settings, sha256: str) -> Path:
    return files_dir(settings) / sha256[:2] / sha256


def stored_files(settings: Settings) -> Iterator[Path]:
    """Every kept submission file."""
    for path in sorted(files_dir(settings).glob("??/*")):
        if path.is_file():
            yield path


def working_dir(settings: Settings) -> Path:
    """Where plain copies and files being sealed are written: data_dir, never the file store."""
    directory = settings.data_dir / "intake" / "incoming"
    directory.mkdir(parents=True, exist_ok=True)
    _remove_forgotten(directory)
    return directory


def _remove_forgotten(directory: Path) -> None:
    # A process killed while reading leaves its plain copy behind; no reading lasts this long
    # (a job's timeout is an hour), so an older file is nobody's.
    oldest = time.time() - FORGOTTEN_AFTER_SECONDS
    for path in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < oldest:
                path.unlink()


@dataclass(frozen=True)
class StoredFile:
    # A private plain copy to read the file from, removed when the upload is handled.
    path: Path
    sha256: str
    size: int


@contextlib.asynccontextmanager
async def store_file(settings: Settings, keyring: Keyring, chunks: AsyncIterator[bytes]) -> AsyncIterator[StoredFile]:
    """Stream the upload, sealed, into the file store under its SHA-256, refusing it (413) past the limit.

    The plain copy it reads from is written in the same pass and removed on leaving.
    """
    directory = working_dir(settings)
    digest = hashlib.sha256()
    sealer = sealed_files.FileSealer(keyring)
    size = 0
    plain_handle, plain = tempfile.mkstemp(dir=directory)
    # Both halves are written outside the file store: a backup copying it never meets a partial file.
    sealed_handle, sealed = tempfile.mkstemp(dir=directory)
    try:
        with os.fdopen(plain_handle, "wb") as plain_out, os.fdopen(sealed_handle, "wb") as sealed_out:
            sealed_out.write(sealer.header)
            async for chunk in chunks:
                size += len(chunk)
                if size > settings.intake_max_file_bytes:
                    raise FileTooLarge(
                        f"The file is larger than the limit of {settings.intake_max_file_bytes:,} bytes.",
                        limit=settings.intake_max_file_bytes,
                    )
                digest.update(chunk)
                plain_out.write(chunk)
                sealed_out.write(sealer.update(chunk))
            sealed_out.write(sealer.finish())
        sha256 = digest.hexdigest()
        target = stored_path(settings, sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.unlink(sealed)
        else:
            # Same content, same name: a file uploaded twice is kept once.
            os.replace(sealed, target)
        yield StoredFile(Path(plain), sha256, size)
    finally:
        for leftover in (plain, sealed):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


@contextlib.asynccontextmanager
async def opened_copy(settings: Settings, keyring: Keyring, sha256: str) -> AsyncIterator[Path]:
    """A private plain copy of a kept file to parse, removed on leaving."""
    handle, plain = tempfile.mkstemp(dir=working_dir(settings))
    try:
        await asyncio.to_thread(_write_opened, handle, stored_path(settings, sha256), keyring)
        yield Path(plain)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(plain)


def _write_opened(handle: int, path: Path, keyring: Keyring) -> None:
    with os.fdopen(handle, "wb") as out:
        for chunk in sealed_files.opened_chunks(path, keyring):
            out.write(chunk)
