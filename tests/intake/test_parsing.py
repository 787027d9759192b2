"""Reading files as submitters write them: encodings, delimiters, decimal commas, headings with units."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqtrack.intake import mapping, parsing
from seqtrack.intake.errors import FileRefused, UnsupportedFile
from seqtrack.intake.validation import read_row


def _read(tmp_path: Path, content: bytes) -> tuple[parsing.Layout, list[tuple[int, list[str]]], parsing.Sheet]:
    path = tmp_path / "upload"
    path.write_bytes(content)
    assert parsing.sniff_kind(path, "x.csv") == "csv"
    sheet = parsing.read_csv(path)
    layout = parsing.find_layout(sheet.rows)
    return layout, list(sheet.rows), sheet


def _values(layout: parsing.Layout, row: tuple[int, list[str]]) -> dict[str, object]:
    return read_row(row[0], row[1], layout.mappings, {}).values


def test_utf8_with_a_bom_reads_the_first_heading_cleanly(tmp_path: Path) -> None:
    layout, rows, sheet = _read(tmp_path, "\ufeffSample Name,Organism\r\nS-1,Escherichia coli\r\n".encode())
    assert layout.columns == ["Sample Name", "Organism"]
    assert layout.mappings[0].field == "name"
    assert sheet.encoding == "utf-8"
    assert _values(layout, rows[0]) == {"name": "S-1", "organism": "Escherichia coli"}


def test_a_windows_1252_file_is_read_as_such(tmp_path: Path) -> None:
    content = "Sample Name;Conc. (ng/µl);Notes\r\nS-1;12,5;für Müller\r\n".encode("cp1252")
    layout, rows, sheet = _read(tmp_path, content)
    assert sheet.encoding == "cp1252"
    assert sheet.delimiter == ";"
    assert _values(layout, rows[0]) == {"name": "S-1", "concentration_ng_ul": 12.5, "notes": "für Müller"}


def test_tab_separated_files_with_units_in_the_headings_are_converted(tmp_path: Path) -> None:
    content = b"sample_id\tVolume [mL]\tFragment size (kb)\tConc (pg/ul)\r\nS-1\t0,02\t12\t1500\r\n\t\t\t\r\n\r\n"
    layout, rows, sheet = _read(tmp_path, content)
    assert sheet.delimiter == "\t"
    assert [(column.field, column.unit, column.factor) for column in layout.mappings] == [
        ("name", None, 1.0),
        ("volume_ul", "ml", 1000.0),
        ("fragment_size_bp", "kb", 1000.0),
        ("concentration_ng_ul", "pg/ul", 0.001),
    ]
    assert _values(layout, rows[0]) == {
        "name": "S-1",
        "volume_ul": 20.0,
        "fragment_size_bp": 12000,
        "concentration_ng_ul": 1.5,
    }
    # The blank trailing rows are read but hold nothing.
    assert all(not any(cell.strip() for cell in cells) for _number, cells in rows[1:])


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("Sample Name", "name"),
        ("sample_id", "name"),
        ("Conc. (ng/µL)", "concentration_ng_ul"),
        ("Billing (chart) code:", "billing_code"),
        ("A260/280", "a260_280"),
        ("Flowcell", "flow_cell_type"),
        ("Tube ID", "barcode"),
        ("Barcode", "library_barcode"),
        ("Something else", None),
    ],
)
def test_heading_synonyms_map_to_fields(heading: str, field: str | None) -> None:
    assert mapping.map_header(heading).field == field


@pytest.mark.parametrize(
    ("written", "number"),
    [("12,5", 12.5), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("1 200", 1200.0), ("0.5", 0.5), ("x", None)],
)
def test_numbers_are_read_as_people_write_them(written: str, number: float | None) -> None:
    assert mapping.parse_number(written) == number


def test_a_comma_before_three_digits_follows_the_file_s_convention() -> None:
    assert mapping.parse_number("40,000", decimal_comma=False) == 40000.0
    assert mapping.parse_number("1,500", decimal_comma=True) == 1.5


def test_a_header_is_required(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match="No header row"):
        _read(tmp_path, b"just,some,words\r\n1,2,3\r\n")


def test_a_zip_that_is_not_a_workbook_is_unsupported(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "upload"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedFile, match="not an Excel workbook"):
        parsing.sniff_kind(path, "samples.xlsx")
