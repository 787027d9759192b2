"""Helpers of the intake tests: the shared example files, uploads, and reading back what was created."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from seqtrack.platform.database import Database
from seqtrack.samples.models import Sample

API = "/api/v1/submissions"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "intake"
# The expected readings give values as the file writes them; SeqTrack stores the controlled names.
SAMPLE_TYPES = {
    "cDNA": "cdna",
    "genomic DNA": "genomic_dna",
    "HMW DNA": "hmw_dna",
    "total RNA": "total_rna",
    "amplicon": "amplicon",
    "mRNA": "mrna",
}


def shared_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"the shared example files are not at {SHARED}")
    return path


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_file(f"{name}.expected.json").read_text())
    return data


async def upload(client: httpx.AsyncClient, content: bytes, name: str = "samples.csv", **form: str) -> httpx.Response:
    return await client.post(API, files={"file": (name, content, "application/octet-stream")}, data=form)


async def count_samples(database: Database) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Sample)) or 0)


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    return body
