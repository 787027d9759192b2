"""One row of a submission read into sample fields and checked by the samples API's own rules.

Every problem is kept as (row, column, value, message): one bad cell never
hides another, and the column is the submitter's own heading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from seqtrack.intake import mapping
from seqtrack.intake.mapping import ColumnMapping
from seqtrack.samples import rules as sample_rules
from seqtrack.samples.schemas import SampleCreate

ALLOWED = {
    "sample_type": sorted(set(mapping.SAMPLE_TYPES.values())),
    "priority": sorted(set(mapping.PRIORITIES.values())),
    "library_kit": sorted(mapping.LIBRARY_KITS),
    "barcoding_kit": sorted(mapping.LIBRARY_KITS),
    "flow_cell_type": sorted(mapping.FLOW_CELLS),
    "basecalling_model": sorted(set(mapping.BASECALLING.values())),
}
_SPREADSHEET_FORMULA = re.compile(r"^\s*[=+\-@]")


@dataclass
class RowReading:
    row_number: int
    cells: list[str]
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    confidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Where each value came from: the column heading, or the form's label for a submission-wide answer.
    sources: dict[str, str] = field(default_factory=dict)

    def error(self, field_name: str, message: str, kind: str = "invalid") -> None:
        value = self.values.get(field_name)
        self.errors.append(
            {
                "row": self.row_number,
                "column": self.sources.get(field_name, field_name),
                "field": field_name,
                "value": "" if value is None else str(value),
                "message": message,
                "kind": kind,
            }
        )


def read_cell(
    field_name: str, text: str, column: ColumnMapping | None, decimal_comma: bool = True
) -> tuple[Any, float, str | None]:
    """A cell as a field's value: (value, confidence, problem). Empty text is None."""
    text = text.strip()
    if not text:
        return None, 1.0, None
    if field_name in mapping.NUMBER_FIELDS:
        number = mapping.parse_number(text, decimal_comma)
        if number is None:
            return text, 1.0, f"{text!r} is not a number"
        number *= column.factor if column is not None else 1.0
        if mapping.NUMBER_FIELDS[field_name] is int:
            if abs(number - round(number)) > 1e-9:
                return number, 1.0, f"{text!r} is not a whole number"
            return round(number), 1.0, None
        return round(number, 6), 1.0, None
    if field_name in mapping.CONTROLLED_FIELDS:
        reading = mapping.normalise_controlled(field_name, text)
        if reading is None:
            allowed = ALLOWED.get(field_name, [])
            return text, 1.0, f"{text!r} is not one of: {', '.join(allowed)}"
        return reading.value, reading.confidence, None
    return text, 1.0, None


def read_row(
    row_number: int,
    cells: Sequence[str],
    mappings: Sequence[ColumnMapping],
    defaults: Mapping[str, Mapping[str, Any]],
    decimal_comma: bool = True,
) -> RowReading:
    """Cells under their columns, then the submission-wide answers for fields the row leaves empty."""
    reading = RowReading(row_number, [str(cell) for cell in cells])
    for index, column in enumerate(mappings):
        if column.field is None:
            continue
        text = cells[index] if index < len(cells) else ""
        reading.sources[column.field] = column.column
        value, confidence, problem = read_cell(column.field, text, column, decimal_comma)
        if value is None:
            continue
        reading.values[column.field] = value
        if confidence < 1.0:
            reading.confidence[column.field] = {"confidence": confidence, "evidence": text.strip()}
        if problem is not None:
            reading.error(column.field, problem)
    for name, answer in defaults.items():
        if name not in mapping.SAMPLE_FIELDS or reading.values.get(name) not in (None, ""):
            continue
        reading.values[name] = answer.get("value")
        reading.sources[name] = str(answer.get("label") or name)
        confidence = float(answer.get("confidence", 1.0))
        if confidence < 1.0:
            reading.confidence[name] = {"confidence": confidence, "evidence": answer.get("evidence")}
    return reading


def sample_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values the samples API takes, empty ones left out."""
    return {name: value for name, value in values.items() if name in mapping.SAMPLE_FIELDS and value not in (None, "")}


def check(reading: RowReading, billing_code_pattern: str | None) -> None:
    """The samples API's own validation (ranges, lengths, required fields), then the facility's billing rule."""
    invalid = {error["field"] for error in reading.errors}
    body = {name: value for name, value in sample_fields(reading.values).items() if name not in invalid}
    try:
        SampleCreate.model_validate(body)
    except ValidationError as exc:
        for item in exc.errors():
            name = str(item["loc"][0]) if item["loc"] else "row"
            if name in invalid:
                continue
            message = str(item["msg"])
            if item["type"] == "missing":
                message = "required"
            reading.error(name, message)
            invalid.add(name)
    code = reading.values.get("billing_code")
    if "billing_code" not in invalid and isinstance(code, str):
        problem = sample_rules.billing_code_problem(code.strip(), billing_code_pattern)
        if problem is not None:
            reading.error("billing_code", problem)


def export_cell(text: str) -> str:
    """A cell safe to open in a spreadsheet: a leading =, +, - or @ is shown as text, never run as a formula."""
    if _SPREADSHEET_FORMULA.match(text) and mapping.parse_number(text) is None:
        return "'" + text
    return text
