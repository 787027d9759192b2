"""MinKNOW's run outputs read back: final_summary_*.txt and sequencing_summary_*.txt.

Every bad line is collected with its line number and column, and the import is
refused whole when any is found: a report half-read would give a sample a yield
that is not its own.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from seqtrack.sequencing.errors import InvalidRunReport

MAX_ERRORS = 50
UNCLASSIFIED = "unclassified"
FINAL_SUMMARY_REQUIRED = ("flow_cell_id", "protocol_group_id")
SUMMARY_COLUMNS = ("read_id", "passes_filtering", "sequence_length_template", "mean_qscore_template")


@dataclass(frozen=True)
class FinalSummary:
    flow_cell_id: str
    protocol_group_id: str
    sample_id: str | None
    instrument: str | None
    position: str | None
    started: datetime | None
    acquisition_stopped: datetime | None
    fields: dict[str, str]


def parse_final_summary(text: str) -> FinalSummary:
    """``key=value`` lines as MinKNOW writes them at the end of a run."""
    fields: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            errors.append({"field": "final_summary", "row": number, "message": "expected key=value"})
            continue
        fields[key.strip()] = value.strip()
    for key in FINAL_SUMMARY_REQUIRED:
        if not fields.get(key):
            errors.append({"field": f"final_summary.{key}", "message": "missing"})
    times: dict[str, datetime | None] = {}
    for key in ("started", "acquisition_stopped"):
        raw = fields.get(key)
        try:
            times[key] = datetime.fromisoformat(raw) if raw else None
        except ValueError:
            errors.append({"field": f"final_summary.{key}", "message": f"not a time: {raw!r}"})
            times[key] = None
    if errors:
        raise InvalidRunReport("The final summary cannot be read.", errors=errors)
    return FinalSummary(
        flow_cell_id=fields["flow_cell_id"].upper(),
        protocol_group_id=fields["protocol_group_id"],
        sample_id=fields.get("sample_id") or None,
        instrument=fields.get("instrument") or None,
        position=fields.get("position") or None,
        started=times["started"],
        acquisition_stopped=times["acquisition_stopped"],
        fields=fields,
    )


@dataclass
class Tally:
    reads: int = 0
    bases: int = 0
    pass_reads: int = 0
    pass_bases: int = 0
    qscore_sum: float = 0.0
    lengths: array[int] = field(default_factory=lambda: array("q"))

    def add(self, length: int, qscore: float, passed: bool) -> None:
        self.reads += 1
        self.bases += length
        self.qscore_sum += qscore
        self.lengths.append(length)
        if passed:
            self.pass_reads += 1
            self.pass_bases += length

    def merge(self, other: Tally) -> None:
        self.reads += other.reads
        self.bases += other.bases
        self.pass_reads += other.pass_reads
        self.pass_bases += other.pass_bases
        self.qscore_sum += other.qscore_sum
        self.lengths.extend(other.lengths)

    def figures(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "bases": self.bases,
            "pass_reads": self.pass_reads,
            "pass_bases": self.pass_bases,
            "n50": n50(self.lengths),
            # The mean of the reads' mean Q-scores, as MinKNOW's and dorado's summaries give per read.
            "mean_qscore": round(self.qscore_sum / self.reads, 2) if self.reads else 0.0,
            "pass_rate": round(self.pass_reads / self.reads, 4) if self.reads else 0.0,
        }


def n50(lengths: Iterable[int]) -> int:
    """The read length at which half of all bases are in reads at least that long."""
    ordered = sorted(lengths, reverse=True)
    half = sum(ordered) / 2
    running = 0
    for length in ordered:
        running += length
        if running >= half:
            return length
    return 0


def tally_sequencing_summary(lines: Iterable[str]) -> dict[str, Tally]:
    """Per-barcode tallies of a sequencing summary (tab-separated, one read per line).

    Without a ``barcode_arrangement`` column (an unbarcoded run) every read counts
    as unclassified; the caller gives those to the run's only library.
    """
    reader = csv.reader(lines, delimiter="\t")
    header = next(reader, None)
    if header is None:
        raise InvalidRunReport(
            "The sequencing summary is empty.", errors=[{"field": "sequencing_summary", "message": "empty file"}]
        )
    columns = {name.strip(): index for index, name in enumerate(header)}
    missing = [name for name in SUMMARY_COLUMNS if name not in columns]
    if missing:
        raise InvalidRunReport(
            "The sequencing summary lacks columns: " + ", ".join(missing),
            errors=[{"field": "sequencing_summary", "column": name, "message": "missing column"} for name in missing],
        )
    barcode_at = columns.get("barcode_arrangement")
    tallies: dict[str, Tally] = {}
    errors: list[dict[str, Any]] = []
    for number, row in enumerate(reader, start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        try:
            length = int(row[columns["sequence_length_template"]])
            qscore = float(row[columns["mean_qscore_template"]])
            passed_text = row[columns["passes_filtering"]].strip().upper()
            barcode = row[barcode_at].strip() if barcode_at is not None else UNCLASSIFIED
        except IndexError:
            errors.append({"field": "sequencing_summary", "row": number, "message": "too few columns"})
            continue
        except ValueError as exc:
            column = "sequence_length_template" if "int" in str(exc) else "mean_qscore_template"
            errors.append({"field": "sequencing_summary", "row": number, "column": column, "message": str(exc)})
            continue
        if passed_text not in ("TRUE", "FALSE") or length < 0:
            column = "passes_filtering" if passed_text not in ("TRUE", "FALSE") else "sequence_length_template"
            errors.append({"field": "sequencing_summary", "row": number, "column": column, "message": "invalid value"})
            continue
        tallies.setdefault(barcode or UNCLASSIFIED, Tally()).add(length, qscore, passed_text == "TRUE")
    if errors:
        raise InvalidRunReport(
            f"The sequencing summary has {len(errors)} bad rows; nothing was imported.", errors=errors[:MAX_ERRORS]
        )
    return tallies


def text_lines(raw: bytes, field_name: str) -> io.StringIO:
    try:
        return io.StringIO(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidRunReport(
            f"{field_name} is not UTF-8 text.", errors=[{"field": field_name, "message": "not UTF-8 text"}]
        ) from exc
