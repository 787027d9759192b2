"""Templates a submitter downloads read back as submissions; the XLSX offers drop-downs for controlled fields."""

from __future__ import annotations

import io

import httpx
import pdfplumber
from fastapi import FastAPI
from openpyxl import load_workbook

from seqtrack.intake import mapping, pdf
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as
from tests.intake.support import API, upload


async def test_the_csv_template_reads_back_as_a_valid_one_sample_submission(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    template = await client.get(f"{API}/template.csv")
    assert template.status_code == 200
    assert template.headers["content-type"].startswith("text/csv")
    preview = (await upload(client, template.content, "template.csv")).json()
    assert preview["state"] == "validated"
    assert all(column["field"] is not None for column in preview["mapping"])
    assert preview["rows"][0]["values"]["name"] == "ECO-001"


async def test_the_xlsx_template_has_drop_downs_for_each_controlled_field(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    response = await client.get(f"{API}/template.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook["Samples"]
    headings = [cell.value for cell in sheet[1]]
    fields = [mapping.map_header(str(heading)).field for heading in headings]
    validated = {}
    for rule in sheet.data_validations.dataValidation:
        column = str(rule.sqref).split(":")[0].rstrip("0123456789")
        index = sum((ord(char) - 64) * 26**power for power, char in enumerate(reversed(column))) - 1
        validated[fields[index]] = rule.formula1
    assert set(validated) == {"sample_type", "flow_cell_type", "library_kit", "barcoding_kit", "priority"}
    lists = workbook["Lists"]
    kits = [cell.value for row in lists[validated["library_kit"].split("!")[1].replace("$", "")] for cell in row]
    assert "SQK-LSK114" in kits
    preview = (await upload(client, response.content, "template.xlsx")).json()
    assert preview["state"] == "validated"


async def test_the_printable_pdf_form_has_every_label_the_form_reader_knows(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    response = await client.get(f"{API}/template.pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")
    with pdfplumber.open(io.BytesIO(response.content)) as document:
        text = "\n".join(page.extract_text() or "" for page in document.pages)
    labels = [line.split(":")[0] for line in text.splitlines() if line.rstrip().endswith(":")]
    assert "Billing (chart) code" in labels
    assert all(mapping.map_label(label) is not None for label in labels)
    assert pdf._table_header(text.splitlines()) is not None
