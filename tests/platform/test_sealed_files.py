"""Kept files sealed in chunks: the content comes back whole, and any change to what is stored is refused."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from seqtrack.platform import crypto, sealed_files
from seqtrack.platform.sealed_files import CHUNK, FileSealer, FileUnreadable

KEYRING = crypto.Keyring("k1", {"k1": os.urandom(32), "k2": os.urandom(32)}, os.urandom(32))


def _sealed(path: Path, content: bytes, keyring: crypto.Keyring = KEYRING, piece: int = 10_000) -> Path:
    sealer = FileSealer(keyring)
    body = b"".join(sealer.update(content[start : start + piece]) for start in range(0, len(content), piece))
    path.write_bytes(sealer.header + body + sealer.finish())
    return path


def _read(path: Path, keyring: crypto.Keyring = KEYRING) -> bytes:
    return b"".join(sealed_files.opened_chunks(path, keyring))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17])
def test_a_sealed_file_reads_back_as_written_whatever_its_size(tmp_path: Path, size: int) -> None:
    content = os.urandom(size)
    path = _sealed(tmp_path / "file", content)
    assert _read(path) == content
    if size >= 16:  # a shorter content may turn up in random ciphertext by chance
        assert content[:64] not in path.read_bytes()
    assert sealed_files.key_id_of(path) == "k1"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[:-1], id="cut-short"),
        pytest.param(lambda raw: raw[: -(16 + 5)], id="last-chunk-dropped-mid-way"),
        pytest.param(lambda raw: raw + b"\0" * 16, id="extended"),
        pytest.param(lambda raw: raw[:200] + bytes([raw[200] ^ 1]) + raw[201:], id="one-bit-flipped"),
    ],
)
def test_a_changed_sealed_file_is_refused(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    path = _sealed(tmp_path / "file", os.urandom(2 * CHUNK + 100))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(FileUnreadable):
        _read(path)


def test_a_file_cut_at_a_chunk_boundary_is_refused(tmp_path: Path) -> None:
    path = _sealed(tmp_path / "file", os.urandom(2 * CHUNK + 100))
    header = len(FileSealer(KEYRING).header)
    path.write_bytes(path.read_bytes()[: header + 2 * (CHUNK + 16)])
    with pytest.raises(FileUnreadable):
        _read(path)


def test_a_file_kept_before_sealing_reads_as_it_is_and_reseals_under_the_active_key(tmp_path: Path) -> None:
    content = b"Sample Name,Submitter Email\nS-1,pi@lab.example\n"
    path = tmp_path / "plain"
    path.write_bytes(content)
    assert sealed_files.key_id_of(path) == sealed_files.PLAINTEXT
    assert _read(path) == content

    rotated = crypto.Keyring("k2", KEYRING.keys, KEYRING.index_key)
    sealed_files.reseal(path, rotated, tmp_path)
    assert sealed_files.key_id_of(path) == "k2"
    assert b"pi@lab.example" not in path.read_bytes()
    assert _read(path, rotated) == content
    assert sorted(tmp_path.iterdir()) == [path]
