"""The CSV export opens in a spreadsheet as text, however a cell's formula is disguised."""

from __future__ import annotations

import csv
import io

import httpx
from fastapi import FastAPI

from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, sample_body

API = "/api/v1/samples"
FORMULA_STARTS = ("=", "+", "-", "@")


async def test_formulas_after_leading_whitespace_or_line_breaks_are_neutralised_in_every_text_column(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    disguised = {
        "notes": " =1+1",
        "project": "\n=1+1",
        "organism": "\r\n@SUM(A1)",
        "submitter_name": "\t+cmd|' /C calc'!A0",
        "buffer": "  -2+3",
    }
    created = await client.post(API, json=sample_body(**disguised))
    assert created.status_code == 201, created.text
    stored = created.json()
    # Whatever the API kept of each value is what the export must neutralise.
    kept = {name: stored[name] for name in disguised if isinstance(stored.get(name), str)}
    assert any(value != value.lstrip() for value in kept.values()), kept

    response = await client.get(f"{API}/export.csv")
    assert response.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    for name, value in kept.items():
        if value.lstrip().startswith(FORMULA_STARTS):
            assert row[name] == "'" + value, (name, row[name])
    unsafe = [
        name
        for name, cell in row.items()
        if cell
        and not cell.startswith("'")
        and (cell[0] in "\t\r\n" or cell.lstrip().startswith(FORMULA_STARTS))
        and name not in {"concentration_ng_ul", "volume_ul", "a260_280", "a260_230"}
    ]
    assert not unsafe, {name: row[name] for name in unsafe}
