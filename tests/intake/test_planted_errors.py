"""Acceptance 2: a 5,000-row file with 37 planted errors reports exactly those 37 (row, column) pairs."""

from __future__ import annotations

import csv
import io
import random

import httpx
from fastapi import FastAPI

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as
from tests.intake.support import API, count_samples, upload

HEADINGS = [
    "Sample ID",
    "Material",
    "Species",
    "Conc. (ng/µL)",
    "Volume (µL)",
    "A260/280",
    "Fragment size (bp)",
    "Tube Barcode",
    "Flow Cell",
    "Library Kit",
    "Priority",
    "Billing Code",
    "Notes",
]
# (column, bad value); a value of None means "the previous row's value" (a duplicate).
PLANTS: list[tuple[str, str | None]] = [
    ("Conc. (ng/µL)", "20000"),
    ("Volume (µL)", "lots"),
    ("Material", "plasma"),
    ("Priority", "asap"),
    ("Flow Cell", "XYZ"),
    ("A260/280", "7,5"),
    ("Sample ID", ""),
    ("Tube Barcode", None),
    ("Billing Code", "BAD-1"),
    ("Fragment size (bp)", "12,5"),
]


def _good_row(number: int) -> dict[str, str]:
    return {
        "Sample ID": f"S-{number:05d}",
        "Material": random.choice(["HMW DNA", "genomic DNA", "total RNA", "cDNA"]),
        "Species": "Escherichia coli",
        # Decimal commas, as a spreadsheet in a German or French locale writes them.
        "Conc. (ng/µL)": f"{random.uniform(5, 400):.1f}".replace(".", ","),
        "Volume (µL)": str(random.choice([10, 12, 20, 25])),
        "A260/280": f"{random.uniform(1.7, 2.1):.2f}".replace(".", ","),
        "Fragment size (bp)": str(random.choice([3500, 8000, 25000])),
        "Tube Barcode": f"T-{number:05d}",
        "Flow Cell": "FLO-MIN114",
        "Library Kit": "SQK-LSK114",
        "Priority": random.choice(["low", "normal", "high", "urgent"]),
        "Billing Code": "NANO-042",
        "Notes": "",
    }


def _planted_file() -> tuple[bytes, set[tuple[int, str]]]:
    random.seed(14)
    rows = [_good_row(number) for number in range(1, 5001)]
    planted: set[tuple[int, str]] = set()
    # Spreadsheet rows 3..5001 (row 1 is the header), never two plants in one row.
    for index, row_number in enumerate(sorted(random.sample(range(3, 5002), 37))):
        column, bad = PLANTS[index % len(PLANTS)]
        row = rows[row_number - 2]
        row[column] = rows[row_number - 3]["Tube Barcode"] if bad is None else bad
        planted.add((row_number, column))
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADINGS, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    # Trailing blank rows, as spreadsheets leave them.
    out.write(";;;;;;;;;;;;\r\n" * 3)
    return out.getvalue().encode("utf-8"), planted


async def test_a_5000_row_file_with_37_planted_errors_reports_exactly_those_37_cells(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    act_as(app, staff_actor(role=Role.MANAGER))
    settings = await client.get("/api/v1/samples/settings")
    patched = await client.patch(
        "/api/v1/samples/settings",
        json={"billing_code_pattern": r"NANO-\d{3}"},
        headers={"If-Match": settings.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text
    content, planted = _planted_file()
    response = await upload(client, content, "big.csv")
    assert response.status_code == 201, response.text
    submission = response.json()
    assert submission["row_count"] == 5000
    assert submission["state"] == "draft"

    reported: list[tuple[int, str]] = []
    after = 0
    while True:
        page = (await client.get(f"{API}/{submission['id']}", params={"problems": "true", "after": after})).json()
        reported += [(error["row"], error["column"]) for row in page["rows"] for error in row["errors"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert len(reported) == 37
    assert set(reported) == planted
    assert submission["error_count"] == 37

    report = (await client.get(f"{API}/{submission['id']}/errors.csv")).content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(report)))
    assert lines[0] == ["Row", *HEADINGS, "Errors"]
    assert {int(line[0]) for line in lines[1:]} == {row for row, _column in planted}

    refused = await client.post(f"{API}/{submission['id']}/commit")
    assert refused.status_code == 409
    assert await count_samples(database) == 0
