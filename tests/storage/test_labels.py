"""Labels a printer takes and a scanner reads back: Code 128, QR, PDF sheets, ZPL, box maps."""

from __future__ import annotations

import csv
import io
from collections import Counter

import httpx
import pytest
import zxingcpp
from fastapi import FastAPI
from PIL import Image
from pypdf import PdfReader

from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, new_sample
from tests.fixtures.storage import make_freezer

LABELS = "/api/v1/labels"


def _decoded(image: Image.Image) -> list[tuple[str, str]]:
    return [(result.format.name, result.text) for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("sheet", ["a4", "thermal_2x1", "letter"])
async def test_a_label_sheet_for_thirty_samples_renders_and_every_code_decodes_to_its_sample(
    app: FastAPI, client: httpx.AsyncClient, database: Database, sheet: str
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    tubes = [
        await new_sample(database, actor, name=f"Ecoli-K12-{n:02d}", barcode=f"FX-{n:05d}" if n % 3 else None)
        for n in range(30)
    ]
    response = await client.get(
        f"{LABELS}/sheet.pdf", params={"sample_id": [str(tube.id) for tube in tubes], "format": sheet}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == {"a4": 2, "thermal_2x1": 30, "letter": 1}[sheet]
    decoded: Counter[tuple[str, str]] = Counter()
    for page in reader.pages:
        for picture in page.images:
            assert picture.image is not None
            decoded.update(_decoded(picture.image))
    expected = [tube.barcode or tube.human_id for tube in tubes]
    # Each label carries its payload twice: Code 128 for handheld scanners, QR for cameras.
    assert decoded == Counter({**{("Code128", p): 1 for p in expected}, **{("QRCode", p): 1 for p in expected}})
    text = "".join(page.extract_text() for page in reader.pages)
    assert all(tube.human_id in text for tube in tubes)


async def test_a_sample_box_and_position_code_render_as_images_that_scan_back_to_them(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor)
    tube = await new_sample(database, actor, barcode="FX-31337")
    box = freezer.box_ids[0]
    for path, payload in (
        (f"{LABELS}/samples/{tube.id}.png", "FX-31337"),
        (f"{LABELS}/containers/{box}.png", freezer.box_codes[0]),
        (f"{LABELS}/positions/{box}/c07.png", f"{freezer.box_codes[0]}-C7"),
    ):
        for symbology, name in (("code128", "Code128"), ("qr", "QRCode")):
            image = await client.get(path, params={"symbology": symbology})
            assert image.headers["content-type"] == "image/png"
            assert _decoded(Image.open(io.BytesIO(image.content))) == [(name, payload)]
            scanned = await client.get(f"/api/v1/scan/{payload}")
            assert scanned.status_code == 200
    svg = await client.get(f"{LABELS}/samples/{tube.id}.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content.lstrip().startswith(b"<?xml")


async def test_a_box_prints_as_zpl_and_as_a_map_to_tape_to_it(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=2, columns=2)
    tubes = [await new_sample(database, actor, barcode=f"FX-{n}") for n in range(3)]
    await client.post(
        f"/api/v1/storage/boxes/{freezer.box_ids[0]}/fill", json={"sample_ids": [str(tube.id) for tube in tubes]}
    )
    zpl = (await client.get(f"{LABELS}/sheet.zpl", params={"box_id": str(freezer.box_ids[0])})).text
    assert zpl.count("^XA") == 4
    assert [f"^FDMA,{tube.barcode}^FS" in zpl for tube in tubes] == [True, True, True]
    mapped = await client.get(f"/api/v1/storage/boxes/{freezer.box_ids[0]}/map.csv")
    rows = list(csv.DictReader(io.StringIO(mapped.text)))
    assert [(row["position"], row["barcode"]) for row in rows] == [
        ("A1", "FX-0"),
        ("A2", "FX-1"),
        ("B1", "FX-2"),
        ("B2", ""),
    ]
    workbook = await client.get(f"/api/v1/storage/boxes/{freezer.box_ids[0]}/map.xlsx")
    assert workbook.content[:2] == b"PK"


async def test_a_sheet_without_samples_or_box_is_refused_naming_the_parameter(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    response = await client.get(f"{LABELS}/sheet.pdf")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sample_id"
