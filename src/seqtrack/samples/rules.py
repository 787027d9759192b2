"""Facility defaults and the pure rules over them: QC judgement, due times, IDs, search text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from seqtrack.samples.lifecycle import TRANSITIONS, transition_name
from seqtrack.samples.schemas import Judgement, Priority, QcKind

DEFAULT_ID_PREFIX = "SEQ"

DEFAULT_STEPS: list[dict[str, Any]] = [
    {"name": "Sample QC", "expected_hours": 1, "state": "qc"},
    {"name": "Library Preparation", "expected_hours": 4, "state": "library_prep"},
    {"name": "Library QC", "expected_hours": 1, "state": "library_prep"},
    {"name": "Sequencing Setup", "expected_hours": 1, "state": "sequencing"},
    {"name": "Sequencing Run", "expected_hours": 48, "state": "sequencing"},
    {"name": "Basecalling", "expected_hours": 2, "state": "analysis"},
    {"name": "Quality Assessment", "expected_hours": 1, "state": "analysis"},
    {"name": "Data Delivery", "expected_hours": 1, "state": "analysis"},
]

# Nanopore ligation kits want clean, long DNA: these bounds follow ONT's
# extraction guidance (A260/280 ~1.8, A260/230 2.0–2.2, long fragments, DIN ≥ 7).
DEFAULT_QC_THRESHOLDS: dict[str, dict[str, dict[str, float | None]]] = {
    QcKind.A260_280: {"warn": {"min": 1.8, "max": 2.0}, "fail": {"min": 1.7, "max": 2.1}},
    QcKind.A260_230: {"warn": {"min": 2.0, "max": 2.2}, "fail": {"min": 1.8, "max": 2.4}},
    QcKind.CONCENTRATION: {"warn": {"min": 20, "max": None}, "fail": {"min": 5, "max": None}},
    QcKind.VOLUME: {"warn": {"min": 20, "max": None}, "fail": {"min": 5, "max": None}},
    QcKind.FRAGMENT_SIZE: {"warn": {"min": 10_000, "max": None}, "fail": {"min": 3_000, "max": None}},
    QcKind.DIN: {"warn": {"min": 7, "max": None}, "fail": {"min": 5, "max": None}},
    QcKind.RIN: {"warn": {"min": 8, "max": None}, "fail": {"min": 6, "max": None}},
}

# QC release, sequencing release and data delivery are the Part 11 sign-off points by default.
DEFAULT_SIGNED_TRANSITIONS = ["qc->library_prep", "library_prep->sequencing", "analysis->delivered"]

DEFAULT_TURNAROUND_HOURS: dict[str, float] = {
    Priority.LOW: 28 * 24,
    Priority.NORMAL: 14 * 24,
    Priority.HIGH: 7 * 24,
    Priority.URGENT: 3 * 24,
}

QC_UNITS = {
    QcKind.A260_280: "ratio",
    QcKind.A260_230: "ratio",
    QcKind.CONCENTRATION: "ng/µL",
    QcKind.VOLUME: "µL",
    QcKind.FRAGMENT_SIZE: "bp",
    QcKind.DIN: "DIN",
    QcKind.RIN: "RIN",
}

# The sample field a measurement of each kind keeps current.
QC_SAMPLE_FIELD = {
    QcKind.A260_280: "a260_280",
    QcKind.A260_230: "a260_230",
    QcKind.CONCENTRATION: "concentration_ng_ul",
    QcKind.VOLUME: "volume_ul",
    QcKind.FRAGMENT_SIZE: "fragment_size_bp",
    QcKind.DIN: "integrity_number",
    QcKind.RIN: "integrity_number",
}

TRANSITION_NAMES = frozenset(transition_name(t.source, t.target) for t in TRANSITIONS)


def _outside(value: float, bounds: dict[str, float | None]) -> bool:
    low, high = bounds.get("min"), bounds.get("max")
    return (low is not None and value < low) or (high is not None and value > high)


def judge(kind: QcKind, value: float, thresholds: dict[str, Any]) -> Judgement:
    rule = thresholds.get(kind.value) or DEFAULT_QC_THRESHOLDS.get(kind)
    if rule is None:
        return Judgement.PASS
    if _outside(value, rule["fail"]):
        return Judgement.FAIL
    if _outside(value, rule["warn"]):
        return Judgement.WARN
    return Judgement.PASS


def due_at(due_date: date | None, priority: Priority, created_at: datetime, turnaround: dict[str, float]) -> datetime:
    """When a sample is owed: the end of its due date, else the priority's turnaround target."""
    if due_date is not None:
        return datetime.combine(due_date, time.max, tzinfo=UTC)
    hours = turnaround.get(priority.value, DEFAULT_TURNAROUND_HOURS[priority])
    return created_at + timedelta(hours=hours)


def human_id(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"


def search_text(*parts: str | None) -> str:
    """Lower-cased, space-joined text the list search matches substrings in."""
    return " ".join(part.strip().lower() for part in parts if part)


def billing_code_problem(code: str | None, pattern: str | None) -> str | None:
    if code is None or pattern is None:
        return None
    if re.fullmatch(pattern, code) is None:
        return f"does not match the facility's billing code pattern '{pattern}'"
    return None


def like_pattern(query: str) -> str:
    escaped = query.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
