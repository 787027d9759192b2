"""Bad input: each refused with a clear problem+json, and nothing is committed (issue 14's list)."""

from __future__ import annotations

import csv
import io
import os
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfWriter

from seqtrack.app import create_app
from seqtrack.identity.permissions import Role
from seqtrack.intake import files
from seqtrack.intake.errors import FileTooLarge
from seqtrack.platform import crypto
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings
from tests.fixtures.http import asgi_client
from tests.fixtures.samples import act_as, new_sample
from tests.intake.support import API, count_samples, problem, upload

HEADER = "Sample Name,Sample Type,Conc. (ng/µL),Tube Barcode,Billing Code,Notes\r\n"


async def _nothing_kept(client: httpx.AsyncClient, database: Database) -> None:
    assert (await client.get(API)).json()["items"] == []
    assert await count_samples(database) == 0


@pytest.fixture
def staff(app: FastAPI) -> None:
    act_as(app, staff_actor(role=Role.MANAGER))


@pytest.mark.usefixtures("staff")
async def test_an_empty_file_is_refused_as_empty(client: httpx.AsyncClient, database: Database) -> None:
    response = await upload(client, b"", "samples.csv")
    assert response.status_code == 422
    assert problem(response)["detail"] == "The file is empty."
    await _nothing_kept(client, database)


@pytest.mark.usefixtures("staff")
async def test_a_file_with_only_its_header_is_refused_for_having_no_rows(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await upload(client, (HEADER + ",,,,,\r\n").encode(), "samples.csv")
    assert response.status_code == 422
    assert "no sample rows" in problem(response)["detail"]
    await _nothing_kept(client, database)


@pytest.mark.usefixtures("staff")
async def test_an_image_renamed_to_csv_is_refused_by_its_content(client: httpx.AsyncClient, database: Database) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    response = await upload(client, png, "samples.csv")
    assert response.status_code == 415
    body = problem(response)
    assert "PNG image" in body["detail"]
    assert "samples.csv" in body["detail"]
    await _nothing_kept(client, database)


@pytest.mark.usefixtures("staff")
async def test_a_200_mb_upload_is_refused_with_413_before_it_is_read(
    client: httpx.AsyncClient, database: Database
) -> None:
    size = 200 * 1024 * 1024

    async def body() -> AsyncIterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        yield b"a" * 1024

    response = await client.post(
        API,
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=x", "content-length": str(size)},
    )
    assert response.status_code == 413
    assert problem(response)["status"] == 413
    await _nothing_kept(client, database)


async def test_a_file_over_the_intake_limit_is_refused_with_413_while_streaming(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    app = create_app(make_settings(tmp_path / "limited", database_url, intake_max_file_bytes=64 * 1024))
    act_as(app, staff_actor())
    rows = "".join(f"S-{number},HMW DNA,50,T-{number},,\r\n" for number in range(20_000))
    async with asgi_client(app) as client:
        response = await upload(client, (HEADER + rows).encode(), "samples.csv")
        assert response.status_code == 413
        assert "limit" in problem(response)["detail"]
        await _nothing_kept(client, database)


async def test_the_stored_upload_stops_at_the_limit_and_leaves_no_partial_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, intake_max_file_bytes=1024 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * (512 * 1024)

    with pytest.raises(FileTooLarge):
        async with files.store_file(settings, crypto.keyring_for(settings), chunks()):
            pass
    assert list((tmp_path / "intake" / "incoming").iterdir()) == []


def test_a_plain_copy_left_by_a_killed_process_is_removed_hours_later(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    directory = files.working_dir(settings)
    forgotten, current = directory / "forgotten", directory / "current"
    for path in (forgotten, current):
        path.write_bytes(b"Submitter Email\npi@lab.example\n")
    hours_ago = time.time() - files.FORGOTTEN_AFTER_SECONDS - 60
    os.utime(forgotten, (hours_ago, hours_ago))
    assert files.working_dir(settings) == directory
    assert list(directory.iterdir()) == [current]


@pytest.mark.usefixtures("staff")
async def test_an_xlsx_zip_bomb_is_refused_before_it_is_inflated(client: httpx.AsyncClient, database: Database) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for _ in range(64):
                sheet.write(b" " * (1024 * 1024))
    response = await upload(client, bomb.getvalue(), "samples.xlsx")
    assert response.status_code == 422
    assert "zip bomb" in problem(response)["detail"]
    await _nothing_kept(client, database)


@pytest.mark.usefixtures("staff")
async def test_an_encrypted_pdf_is_refused_saying_so(client: httpx.AsyncClient, database: Database) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    response = await upload(client, out.getvalue(), "form.pdf")
    assert response.status_code == 422
    assert "encrypted" in problem(response)["detail"]
    await _nothing_kept(client, database)


@pytest.mark.usefixtures("staff")
async def test_a_malformed_pdf_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    response = await upload(client, b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ntrailer\n%%EOF", "f.pdf")
    assert response.status_code == 422
    assert problem(response)["code"] == "intake.file_refused"
    await _nothing_kept(client, database)


@pytest.mark.usefixtures("staff")
async def test_a_formula_is_kept_as_text_and_neutralised_in_the_error_report(client: httpx.AsyncClient) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'
    content = HEADER + f'S-1,HMW DNA,999999,T-1,,"{formula.replace(chr(34), chr(34) * 2)}"\r\n'
    preview = (await upload(client, content.encode(), "samples.csv")).json()
    assert preview["rows"][0]["values"]["notes"] == formula
    report = (await client.get(f"{API}/{preview['id']}/errors.csv")).content.decode("utf-8-sig")
    [_header, line] = list(csv.reader(io.StringIO(report)))
    assert line[6] == "'" + formula
    workbook = (await client.get(f"{API}/{preview['id']}/errors.xlsx")).content
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(workbook)).active
    assert sheet.cell(row=2, column=7).value == "'" + formula
    assert sheet.cell(row=2, column=7).data_type == "s"


@pytest.mark.usefixtures("staff")
async def test_a_file_mixing_utf8_and_windows_1252_is_refused_naming_the_line(
    client: httpx.AsyncClient, database: Database
) -> None:
    content = HEADER.encode() + "S-µ1,HMW DNA,50,T-1,,\r\n".encode() + "S-µ2,HMW DNA,50,T-2,,\r\n".encode("cp1252")
    response = await upload(client, content, "samples.csv")
    assert response.status_code == 422
    body = problem(response)
    assert "mixes encodings" in body["detail"]
    assert body["line"] == 3
    await _nothing_kept(client, database)


@pytest.mark.usefixtures("staff")
async def test_a_file_of_10000_columns_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    header = ",".join(["Sample Name", "Sample Type", *(f"extra {n}" for n in range(9998))])
    response = await upload(client, (header + "\r\nS-1,HMW DNA\r\n").encode(), "wide.csv")
    assert response.status_code == 422
    assert "10,000 columns" in problem(response)["detail"]
    await _nothing_kept(client, database)


@pytest.mark.usefixtures("staff")
async def test_a_billing_code_of_the_wrong_pattern_is_a_row_error_and_blocks_the_commit(
    client: httpx.AsyncClient, database: Database
) -> None:
    settings = await client.get("/api/v1/samples/settings")
    await client.patch(
        "/api/v1/samples/settings",
        json={"billing_code_pattern": r"NANO-\d{3}"},
        headers={"If-Match": settings.headers["ETag"]},
    )
    preview = (await upload(client, (HEADER + "S-1,HMW DNA,50,T-1,42-NANO,\r\n").encode())).json()
    [error] = preview["rows"][0]["errors"]
    assert (error["row"], error["column"], error["value"]) == (2, "Billing Code", "42-NANO")
    assert "pattern 'NANO-\\d{3}'" in error["message"]
    refused = await client.post(f"{API}/{preview['id']}/commit")
    assert refused.status_code == 409
    assert problem(refused)["code"] == "intake.not_ready"
    assert await count_samples(database) == 0


async def test_duplicate_barcodes_in_the_file_and_against_existing_samples_are_row_errors(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actor = staff_actor(role=Role.MANAGER)
    act_as(app, actor)
    await new_sample(database, actor, barcode="T-OLD", name="kept")
    rows = "S-1,HMW DNA,50,T-1,,\r\nS-2,HMW DNA,50,T-1,,\r\nS-3,HMW DNA,50,T-OLD,,\r\n"
    preview = (await upload(client, (HEADER + rows).encode())).json()
    errors = {(error["row"], error["column"]): error["message"] for row in preview["rows"] for error in row["errors"]}
    assert errors == {
        (3, "Tube Barcode"): "same tube barcode as row 2",
        (4, "Tube Barcode"): "barcode T-OLD is already on a sample of this facility",
    }
    assert (await client.post(f"{API}/{preview['id']}/commit")).status_code == 409
    assert await count_samples(database) == 1

    etag = (await client.get(f"{API}/{preview['id']}")).headers["ETag"]
    fixed = await client.patch(
        f"{API}/{preview['id']}/rows/3", json={"values": {"barcode": "T-2"}}, headers={"If-Match": etag}
    )
    assert fixed.status_code == 200, fixed.text
    etag = fixed.headers["ETag"]
    fixed = await client.patch(
        f"{API}/{preview['id']}/rows/4", json={"values": {"barcode": "T-3"}}, headers={"If-Match": etag}
    )
    assert fixed.json()["submission"]["state"] == "validated"
    assert fixed.json()["cells"][3] == "T-3"
    assert (await client.post(f"{API}/{preview['id']}/commit")).status_code == 200
    assert await count_samples(database) == 4


@pytest.mark.usefixtures("staff")
async def test_a_second_commit_creates_nothing_and_the_same_key_gets_the_first_answer(
    client: httpx.AsyncClient, database: Database
) -> None:
    preview = (await upload(client, (HEADER + "S-1,HMW DNA,50,T-1,,\r\nS-2,HMW DNA,50,T-2,,\r\n").encode())).json()
    first = await client.post(f"{API}/{preview['id']}/commit", headers={"Idempotency-Key": "commit-1"})
    assert first.status_code == 200
    again = await client.post(f"{API}/{preview['id']}/commit", headers={"Idempotency-Key": "commit-1"})
    assert again.status_code == 200
    assert again.json()["samples_created"] == first.json()["samples_created"] == 2
    twice = await client.post(f"{API}/{preview['id']}/commit")
    assert twice.status_code == 409
    body = problem(twice)
    assert body["code"] == "intake.already_committed"
    assert body["samples_created"] == 2
    assert await count_samples(database) == 2
