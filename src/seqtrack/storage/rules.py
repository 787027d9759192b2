"""Storage vocabulary and pure rules: zones, container kinds, position names, codes."""

from __future__ import annotations

import re
import secrets
from enum import StrEnum


class Zone(StrEnum):
    VAPOUR_LN2 = "minus_196"
    ULTRA_LOW = "minus_80"
    FREEZER = "minus_20"
    FRIDGE = "plus_4"
    ROOM = "room"


# Coldest first: a rule "no warmer than -80" allows every zone up to its index.
ZONE_ORDER = (Zone.VAPOUR_LN2, Zone.ULTRA_LOW, Zone.FREEZER, Zone.FRIDGE, Zone.ROOM)
ZONE_LABEL = {
    Zone.VAPOUR_LN2: "−196 °C vapour",
    Zone.ULTRA_LOW: "−80 °C",
    Zone.FREEZER: "−20 °C",
    Zone.FRIDGE: "4 °C",
    Zone.ROOM: "room temperature",
}


class UnitKind(StrEnum):
    FREEZER = "freezer"
    FRIDGE = "fridge"
    LN2_DEWAR = "ln2_dewar"
    CABINET = "cabinet"
    ROOM = "room"


class ContainerKind(StrEnum):
    SHELF = "shelf"
    RACK = "rack"
    DRAWER = "drawer"
    BOX = "box"
    PLATE = "plate"


GRID_KINDS = frozenset({ContainerKind.BOX, ContainerKind.PLATE})
CODE_PREFIX = {
    ContainerKind.SHELF: "SH",
    ContainerKind.RACK: "RK",
    ContainerKind.DRAWER: "DR",
    ContainerKind.BOX: "BX",
    ContainerKind.PLATE: "PL",
}
UNIT_CODE_PREFIX = "SU"
MAX_ROWS = 26
MAX_COLUMNS = 48

# RNA degrades above -80 °C: the facility default keeps it there or colder.
DEFAULT_ZONE_RULES: dict[str, str] = {"total_rna": Zone.ULTRA_LOW.value, "mrna": Zone.ULTRA_LOW.value}
DEFAULT_WARNING_RATIO = 0.80
DEFAULT_CRITICAL_RATIO = 0.95
DEFAULT_CHECKOUT_HOURS = 8.0
DEFAULT_RESERVATION_HOURS = 72.0

# Crockford's base32 without I, L, O, U: a code read aloud or off a smudged label is unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_POSITION = re.compile(r"([A-Z])0*([1-9][0-9]?)")
_CONTAINER_CODE = r"(?:SH|RK|DR|BX|PL)-[0-9A-Z]{8}"
CONTAINER_CODE = re.compile(_CONTAINER_CODE)
UNIT_CODE = re.compile(rf"{UNIT_CODE_PREFIX}-[0-9A-Z]{{8}}")
POSITION_CODE = re.compile(rf"({_CONTAINER_CODE})-([A-Z][0-9]{{1,2}})")


def new_code(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def position_name(row_index: int, column_index: int) -> str:
    """``A1`` for the first row and column (both counted from 0)."""
    return f"{chr(ord('A') + row_index)}{column_index + 1}"


def parse_position(text: str, rows: int, columns: int) -> tuple[str, int, int] | None:
    """The canonical name, row and column of ``text`` (``a01`` → ``A1``) in a rows × columns grid."""
    match = _POSITION.fullmatch(text.strip().upper())
    if match is None:
        return None
    row_index = ord(match.group(1)) - ord("A")
    column_index = int(match.group(2)) - 1
    if row_index >= rows or column_index >= columns:
        return None
    return position_name(row_index, column_index), row_index, column_index


def position_code(container_code: str, position: str) -> str:
    return f"{container_code}-{position}"


def warmest_allowed(sample_type: str, rules: dict[str, str]) -> Zone | None:
    zone = rules.get(sample_type)
    return Zone(zone) if zone else None


def zone_allows(zone: str, warmest: Zone | None) -> bool:
    if warmest is None:
        return True
    return ZONE_ORDER.index(Zone(zone)) <= ZONE_ORDER.index(warmest)


def looks_like_storage_code(code: str) -> bool:
    """A unit, container or position code (cheap to test before any lookup)."""
    upper = code.strip().upper()
    return any(pattern.fullmatch(upper) for pattern in (UNIT_CODE, CONTAINER_CODE, POSITION_CODE))
