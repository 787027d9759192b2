"""Labels: Code 128 and QR codes, PDF label sheets, ZPL for Zebra printers, box maps.

Pure rendering: the storage service decides what a label says; this module
draws it. Every label carries its payload twice, as Code 128 (what handheld
scanners read best) and as QR (what phone cameras and 2D scanners read), with
the human-readable text beside them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import barcode
import segno
from barcode.writer import ImageWriter, SVGWriter
from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Label:
    payload: str
    lines: tuple[str, ...]


class Symbology(StrEnum):
    CODE128 = "code128"
    QR = "qr"


class SheetFormat(StrEnum):
    THERMAL_2X1 = "thermal_2x1"
    A4 = "a4"
    LETTER = "letter"


@dataclass(frozen=True)
class _Sheet:
    page: tuple[float, float]
    columns: int
    rows: int
    label: tuple[float, float]
    origin: tuple[float, float]
    pitch: tuple[float, float]


# Thermal: one 2 × 1 inch label per page, as roll printers take them. A4: 3 × 8
# labels of 63.5 × 33.9 mm (the common 24-up sheet); Letter: 3 × 10 labels of
# 2 5/8 × 1 inch (the common 30-up sheet).
SHEETS = {
    SheetFormat.THERMAL_2X1: _Sheet((50.8, 25.4), 1, 1, (50.8, 25.4), (0, 0), (50.8, 25.4)),
    SheetFormat.A4: _Sheet((210, 297), 3, 8, (63.5, 33.9), (7.2, 12.9), (66.0, 33.9)),
    SheetFormat.LETTER: _Sheet((215.9, 279.4), 3, 10, (66.7, 25.4), (4.8, 12.7), (69.85, 25.4)),
}

_BAR_OPTIONS = {"module_width": 0.2, "module_height": 8.0, "quiet_zone": 2.0, "write_text": False, "dpi": 300}


def code128_svg(payload: str) -> bytes:
    rendered: bytes = barcode.get("code128", payload, writer=SVGWriter()).render(_BAR_OPTIONS)
    return rendered


def code128_png(payload: str) -> bytes:
    image = barcode.get("code128", payload, writer=ImageWriter()).render(_BAR_OPTIONS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg(payload: str) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(payload, error="m").save(buffer, kind="svg", scale=4, border=2)
    return buffer.getvalue()


def qr_png(payload: str) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(payload, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def symbol(payload: str, symbology: Symbology, image_format: str) -> bytes:
    if symbology is Symbology.QR:
        return qr_svg(payload) if image_format == "svg" else qr_png(payload)
    return code128_svg(payload) if image_format == "svg" else code128_png(payload)


def pdf_sheet(labels: list[Label], sheet_format: SheetFormat) -> bytes:
    """A PDF of these labels laid out for the printer or sheet stock named by ``sheet_format``."""
    sheet = SHEETS[sheet_format]
    pdf = FPDF(unit="mm", format=sheet.page)
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    per_page = sheet.columns * sheet.rows
    for index, label in enumerate(labels):
        if index % per_page == 0:
            pdf.add_page()
        slot = index % per_page
        x = sheet.origin[0] + (slot % sheet.columns) * sheet.pitch[0]
        y = sheet.origin[1] + (slot // sheet.columns) * sheet.pitch[1]
        _draw(pdf, label, x, y, sheet.label)
    output: bytes = bytes(pdf.output())
    return output


def _draw(pdf: FPDF, label: Label, x: float, y: float, size: tuple[float, float]) -> None:
    width, height = size
    pad = 1.5
    qr_side = min(height - 2 * pad, width * 0.34)
    bar_width = width - qr_side - 3 * pad
    bar_height = min(9.0, height * 0.38)
    pdf.image(io.BytesIO(code128_png(label.payload)), x=x + pad, y=y + pad, w=bar_width, h=bar_height)
    pdf.image(io.BytesIO(qr_png(label.payload)), x=x + width - pad - qr_side, y=y + pad, w=qr_side, h=qr_side)
    text_y = y + pad + bar_height + 1.0
    pdf.set_font("Helvetica", "B", 7.5)
    for number, line in enumerate(label.lines[:4]):
        if number == 1:
            pdf.set_font("Helvetica", "", 6.5)
        if text_y + 2.8 > y + height:
            break
        pdf.set_xy(x + pad, text_y)
        pdf.cell(bar_width, 2.8, _fit(pdf, _latin1(line), bar_width))
        text_y += 2.9


def _fit(pdf: FPDF, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text + "..." if text else ""


def _latin1(text: str) -> str:
    # The PDF core fonts cover Latin-1; other characters are shown as close as they can be.
    replaced = text.replace("−", "-").replace("›", ">").replace("…", "...")
    return replaced.encode("latin-1", "replace").decode("latin-1")


def zpl(labels: list[Label]) -> str:
    """ZPL II for 2 × 1 inch labels on a 203 dpi Zebra printer: Code 128, QR and text."""
    blocks = []
    for label in labels:
        payload = _zpl_field(label.payload)
        lines = [_zpl_field(line) for line in label.lines[:3]]
        text = "".join(
            f"^FO16,{96 + 30 * number}^A0N,{26 if number == 0 else 22},{26 if number == 0 else 22}^FH^FD{line}^FS"
            for number, line in enumerate(lines)
        )
        blocks.append(
            "^XA^PW406^LL203^CI28"
            f"^FO16,12^BY2^BCN,70,N,N,N^FH^FD{payload}^FS"
            f"^FO300,88^BQN,2,3^FH^FDMA,{payload}^FS"
            f"{text}^XZ"
        )
    return "\n".join(blocks) + "\n"


def _zpl_field(text: str) -> str:
    # ^ and ~ start ZPL commands; with ^FH they are sent as hex escapes instead.
    return text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")


def box_map_csv(cells: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["position", "state", "sample_id", "barcode", "name", "sample_type", "status"])
    for cell in cells:
        sample = cell["sample"] or {}
        writer.writerow(
            [
                cell["position"],
                cell["state"],
                sample.get("human_id", ""),
                sample.get("barcode") or "",
                sample.get("name", ""),
                sample.get("sample_type", ""),
                sample.get("status", ""),
            ]
        )
    return buffer.getvalue()


def box_map_xlsx(title: str, rows: int, columns: int, cells: list[dict[str, Any]]) -> bytes:
    """A printable map (rows × columns, as the box looks from above) and the same as a list."""
    workbook = Workbook()
    grid = workbook.active
    grid.title = "Map"
    grid.cell(row=1, column=1, value=title).font = Font(bold=True)
    for column in range(columns):
        grid.cell(row=2, column=column + 2, value=column + 1).font = Font(bold=True)
    for row in range(rows):
        grid.cell(row=row + 3, column=1, value=chr(ord("A") + row)).font = Font(bold=True)
    for cell in cells:
        sample = cell["sample"]
        text = f"{sample['human_id']}\n{sample['name']}" if sample else cell["state"].replace("_", " ")
        target = grid.cell(row=cell["row"] + 3, column=cell["column"] + 2, value=text)
        target.alignment = Alignment(wrap_text=True, vertical="top")
    listing = workbook.create_sheet("List")
    for line in csv.reader(io.StringIO(box_map_csv(cells))):
        listing.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
