"""Blank submission templates: CSV, XLSX with drop-downs for the controlled fields, and a printable PDF form.

Each reads back through the same parser: the column headings are ones the
header mapping knows, the PDF's labels ones the form reader knows.
"""

from __future__ import annotations

import csv
import io

from seqtrack.intake import mapping

# (heading, field, example)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Sample Name", "name", "ECO-001"),
    ("Sample Type", "sample_type", "HMW DNA"),
    ("Organism", "organism", "Escherichia coli"),
    ("Conc. (ng/µL)", "concentration_ng_ul", "55.2"),
    ("Volume (µL)", "volume_ul", "30"),
    ("A260/280", "a260_280", "1.85"),
    ("A260/230", "a260_230", "2.05"),
    ("Fragment size (bp)", "fragment_size_bp", "25000"),
    ("Buffer", "buffer", "EB"),
    ("Library Kit", "library_kit", "SQK-LSK114"),
    ("Barcoding Kit", "barcoding_kit", ""),
    ("Barcode", "library_barcode", ""),
    ("Tube Barcode", "barcode", "TUBE-0001"),
    ("Flow Cell", "flow_cell_type", "FLO-MIN114"),
    ("Priority", "priority", "normal"),
    ("Due Date", "due_date", ""),
    ("Billing Code", "billing_code", ""),
    ("Project", "project", ""),
    ("Notes", "notes", ""),
)
SAMPLE_TYPE_NAMES = ("genomic DNA", "HMW DNA", "total RNA", "mRNA", "cDNA", "amplicon", "library", "other")
DROP_DOWNS: dict[str, tuple[str, ...]] = {
    "sample_type": SAMPLE_TYPE_NAMES,
    "flow_cell_type": tuple(mapping.FLOW_CELLS),
    "library_kit": tuple(mapping.LIBRARY_KITS),
    "barcoding_kit": tuple(code for code in mapping.LIBRARY_KITS if "." in code),
    "priority": ("low", "normal", "high", "urgent"),
}
TEMPLATE_ROWS = 500


def template_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([heading for heading, _field, _example in COLUMNS])
    writer.writerow([example for _heading, _field, example in COLUMNS])
    # With a BOM, Excel opens the µ in the headings correctly.
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Samples"
    lists = workbook.create_sheet("Lists")
    sheet.append([heading for heading, _field, _example in COLUMNS])
    sheet.append([example for _heading, _field, example in COLUMNS])
    for index, (_heading, field, _example) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = 18
        choices = DROP_DOWNS.get(field)
        if choices is None:
            continue
        # The choices live on a sheet of their own: a list typed into the rule is capped at 255 characters.
        list_column = get_column_letter(len(lists["1"]) + 1 if lists.max_column > 1 or lists["A1"].value else 1)
        for row, choice in enumerate(choices, start=1):
            lists[f"{list_column}{row}"] = choice
        rule = DataValidation(
            type="list",
            formula1=f"=Lists!${list_column}$1:${list_column}${len(choices)}",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Not a known value",
            error=f"Choose one of the listed values for {field.replace('_', ' ')}.",
        )
        letter = get_column_letter(index)
        rule.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
        sheet.add_data_validation(rule)
    lists.sheet_state = "hidden"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


FORM_LABELS = (
    "Submitter name",
    "E-mail",
    "Phone",
    "Lab / Department",
    "Principal investigator",
    "Project title",
    "Billing (chart) code",
)
REQUEST_LABELS = (
    "Sample type",
    "Organism",
    "Flow cell type",
    "Number of flow cells",
    "Library prep kit",
    "Barcoding kit",
    "Basecalling",
    "Reference genome",
    "Data delivery",
    "Priority",
)
FORM_TABLE = ("Sample name", "Conc. (ng/uL)", "Volume (uL)", "A260/280", "Barcode")


def template_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    y = height - 60
    page.setFont("Helvetica-Bold", 15)
    page.drawString(50, y, "Nanopore Sequencing Submission Form")
    y -= 18
    page.setFont("Helvetica", 9)
    page.drawString(
        50, y, "Write one answer after each label; one line per sample in the table. SeqTrack reads it back."
    )
    for title, labels in (("1. Submitter information", FORM_LABELS), ("2. Sequencing request", REQUEST_LABELS)):
        y -= 28
        page.setFont("Helvetica-Bold", 11)
        page.drawString(50, y, title)
        page.setFont("Helvetica", 10)
        for label in labels:
            y -= 18
            page.drawString(60, y, f"{label}:")
            page.line(210, y - 2, width - 50, y - 2)
    y -= 30
    page.setFont("Helvetica-Bold", 11)
    page.drawString(50, y, "3. Samples")
    y -= 18
    page.setFont("Helvetica", 10)
    positions = (60, 190, 290, 380, 460)
    for x, heading in zip(positions, FORM_TABLE, strict=True):
        page.drawString(x, y, heading)
    for _line in range(12):
        y -= 18
        page.line(55, y - 2, width - 50, y - 2)
    page.showPage()
    page.save()
    return out.getvalue()
