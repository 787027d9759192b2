"""Rack-reader CSVs: a whole rack verified at once, nothing changed until the technician confirms."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, new_sample
from tests.fixtures.storage import make_freezer

API = "/api/v1/storage"
ROWS = "ABCDEFGH"


def _visionmate(tubes: dict[str, str]) -> bytes:
    """A VisionMate-style export: rack barcode, position as A01, tube barcode or 'No Tube'."""
    lines = ["Rack Barcode,Tube Position,Tube Barcode"]
    for row in ROWS:
        for column in range(1, 13):
            position = f"{row}{column:02d}"
            lines.append(f"FR06112345,{position},{tubes.get(position, 'No Tube')}")
    return ("\r\n".join(lines) + "\r\n").encode()


async def _grid(client: httpx.AsyncClient, box: object) -> dict[str, str | None]:
    cells = (await client.get(f"{API}/boxes/{box}/grid")).json()["cells"]
    return {cell["position"]: cell["sample"]["barcode"] if cell["sample"] else None for cell in cells}


async def test_a_scan_with_a_swapped_tube_and_an_unknown_barcode_lists_exactly_those_two_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, boxes=2, rows=8, columns=12)
    rack, other = freezer.box_ids
    tubes = [await new_sample(database, actor, barcode=f"FX-{n}") for n in range(1, 6)]
    stray = await new_sample(database, actor, barcode="FX-9")
    await client.post(f"{API}/boxes/{rack}/fill", json={"sample_ids": [str(tube.id) for tube in tubes]})
    await client.post(f"{API}/boxes/{other}/fill", json={"sample_ids": [str(stray.id)]})
    before = await _grid(client, rack)
    scanned = _visionmate(
        {"A01": "FX-1", "A02": "FX-2", "A03": "FX-9", "A04": "FX-4", "A05": "FX-5", "A06": "ZZ-UNKNOWN-777"}
    )

    preview = await client.post(f"{API}/boxes/{rack}/rack-scans", content=scanned, headers={"content-type": "text/csv"})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["scanned"] == 96
    assert body["rack_barcode"] == "FR06112345"
    assert [(row["position"], row["status"], row["barcode"]) for row in body["mismatches"]] == [
        ("A3", "wrong_tube", "FX-9"),
        ("A6", "unknown_barcode", "ZZ-UNKNOWN-777"),
    ]
    swapped = body["mismatches"][0]
    assert swapped["expected"]["barcode"] == "FX-3"
    assert swapped["found_at"] == "Freezer A (−80 °C) › Rack 1 › Box 2 › A1"
    assert await _grid(client, rack) == before

    confirmed = await client.post(
        f"{API}/boxes/{rack}/rack-scans/confirm",
        params={"token": body["token"]},
        content=scanned,
        headers={"content-type": "text/csv"},
    )
    assert confirmed.status_code == 200, confirmed.text
    result = confirmed.json()
    assert (result["placed"], result["moved"], result["removed"]) == (0, 1, 1)
    assert [row["barcode"] for row in result["skipped"]] == ["ZZ-UNKNOWN-777"]
    after = await _grid(client, rack)
    assert {position: code for position, code in after.items() if code} == {
        "A1": "FX-1",
        "A2": "FX-2",
        "A3": "FX-9",
        "A4": "FX-4",
        "A5": "FX-5",
    }
    custody = (await client.get(f"{API}/samples/{stray.id}/custody")).json()
    assert custody["entries"][-1]["reason"] == "rack scan of rack FR06112345"
    where = (await client.get(f"{API}/where", params={"q": "FX-3"})).json()["items"]
    assert where[0]["placement"] is None


async def test_a_confirmation_after_the_box_changed_is_refused_and_applies_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=8, columns=12)
    box = freezer.box_ids[0]
    tube = await new_sample(database, actor, barcode="FX-1")
    scanned = _visionmate({"A01": "FX-1"})
    token = (
        await client.post(f"{API}/boxes/{box}/rack-scans", content=scanned, headers={"content-type": "text/csv"})
    ).json()["token"]
    await client.post(
        f"{API}/placements", json={"sample_id": str(tube.id), "container_id": str(box), "position": "H12"}
    )
    refused = await client.post(
        f"{API}/boxes/{box}/rack-scans/confirm",
        params={"token": token},
        content=scanned,
        headers={"content-type": "text/csv"},
    )
    assert refused.status_code == 412
    assert (await _grid(client, box))["H12"] == "FX-1"


async def test_a_ziath_export_uploaded_as_a_file_places_the_tubes_it_lists(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=8, columns=12)
    box = freezer.box_ids[0]
    for n in (1, 2):
        await new_sample(database, actor, barcode=f"0012345{n}")
    ziath = b"Tube Position;Tube Barcode;Rack Barcode\nA1;00123451;DP-77\nB1;00123452;DP-77\nC1;NO READ;DP-77\n"
    files = {"file": ("rack.csv", ziath, "text/csv")}
    preview = (await client.post(f"{API}/boxes/{box}/rack-scans", files=files)).json()
    assert [(row["position"], row["status"]) for row in preview["mismatches"]] == [
        ("A1", "unexpected_tube"),
        ("B1", "unexpected_tube"),
        ("C1", "unreadable"),
    ]
    applied = await client.post(
        f"{API}/boxes/{box}/rack-scans/confirm", params={"token": preview["token"]}, files=files
    )
    assert applied.json()["placed"] == 2
    grid = await _grid(client, box)
    assert (grid["A1"], grid["B1"], grid["C1"]) == ("00123451", "00123452", None)


async def test_unreadable_rows_are_all_reported_with_row_and_column(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor()
    act_as(app, actor)
    freezer = await make_freezer(database, actor, rows=8, columns=12)
    bad = b"A01,FX-1\nZ99,FX-2\nA01,FX-3\nhello\n"
    response = await client.post(
        f"{API}/boxes/{freezer.box_ids[0]}/rack-scans", content=bad, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 422
    assert [(error["row"], error["column"]) for error in response.json()["errors"]] == [
        (2, "position"),
        (3, "position"),
        (4, "position"),
    ]
