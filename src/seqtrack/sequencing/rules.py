"""Pure rules over the catalog: barcode sets, pooling, kit and flow cell fit, warranty."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seqtrack.sequencing.catalog import FLOW_CELL_TYPES, KITS, Kit, barcode_number, minknow_barcode


@dataclass(frozen=True)
class PooledLibrary:
    """What the pooling rules look at: a library's name, kit and barcode (id None while unsaved)."""

    id: str | None
    name: str
    kit: str
    barcode: str | None

    def named(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kit": self.kit, "barcode": self.barcode}


@dataclass
class PoolCheck:
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, message: str, **facts: Any) -> None:
        self.problems.append({"kind": kind, "message": message, **facts})


def barcode_problem(kit_code: str, barcode: str | None) -> str | None:
    """Why ``barcode`` cannot be used with ``kit_code`` (None: it can)."""
    kit = KITS.get(kit_code)
    if kit is None:
        return f"{kit_code} is not a known kit"
    if kit.barcode_prefix is None:
        return f"{kit.code} has no barcodes" if barcode is not None else None
    if barcode is None:
        return f"{kit.code} is a barcoding kit: choose a barcode from {kit.barcodes[0]}–{kit.barcodes[-1]}"
    if barcode not in kit.barcodes:
        return f"{barcode} is not in {kit.code}'s set {kit.barcodes[0]}–{kit.barcodes[-1]}"
    return None


def check_pool(libraries: Sequence[PooledLibrary], earlier_on_flow_cell: Sequence[PooledLibrary] = ()) -> PoolCheck:
    """Everything that stops these libraries sharing one flow cell, each problem naming its libraries.

    ``earlier_on_flow_cell`` are libraries of earlier runs on a washed flow cell:
    a wash leaves some library behind, so their barcodes clash too.
    """
    check = PoolCheck()
    for library in libraries:
        problem = barcode_problem(library.kit, library.barcode)
        if problem is not None:
            check.add("barcode_outside_kit", f"{library.name}: {problem}", libraries=[library.named()])
    kits = {library.kit: KITS[library.kit] for library in libraries if library.kit in KITS}
    _check_kits(check, libraries, kits)
    unbarcoded = [library for library in libraries if library.barcode is None]
    if unbarcoded and len(libraries) > 1:
        # Reads without a barcode cannot be told apart: such a library runs alone.
        for library in unbarcoded:
            others = [other for other in libraries if other is not library]
            check.add(
                "unbarcoded_in_pool",
                f"{library.name} has no barcode, so its reads cannot be told apart from "
                + ", ".join(other.name for other in others),
                libraries=[library.named(), *(other.named() for other in others)],
            )
    by_barcode: dict[int, list[PooledLibrary]] = defaultdict(list)
    for library in libraries:
        if library.barcode is not None and barcode_problem(library.kit, library.barcode) is None:
            by_barcode[barcode_number(library.barcode)].append(library)
    for number, sharing in sorted(by_barcode.items()):
        for index, first in enumerate(sharing):
            for second in sharing[index + 1 :]:
                check.add(
                    "barcode_clash",
                    f"{first.name} and {second.name} both carry {minknow_barcode(first.barcode or '')}",
                    barcode=f"barcode{number:02d}",
                    libraries=[first.named(), second.named()],
                )
    for earlier in earlier_on_flow_cell:
        if earlier.barcode is None:
            continue
        for library in by_barcode.get(barcode_number(earlier.barcode), []):
            check.add(
                "barcode_clash",
                f"{library.name} carries {minknow_barcode(earlier.barcode)}, which {earlier.name} left on "
                "this washed flow cell",
                barcode=minknow_barcode(earlier.barcode),
                libraries=[library.named(), earlier.named()],
            )
    return check


def _check_kits(check: PoolCheck, libraries: Sequence[PooledLibrary], kits: Mapping[str, Kit]) -> None:
    codes = sorted(kits)
    for index, first_code in enumerate(codes):
        for second_code in codes[index + 1 :]:
            first, second = kits[first_code], kits[second_code]
            if first.chemistry == second.chemistry and first.adapter == second.adapter:
                continue
            why = (
                f"{first.code} ({first.chemistry}) and {second.code} ({second.chemistry}) are different chemistries"
                if first.chemistry != second.chemistry
                else f"{first.code} ({first.adapter} adapter) and {second.code} ({second.adapter} adapter) "
                "load differently"
            )
            check.add(
                "incompatible_kits",
                why,
                kits=[first.code, second.code],
                libraries=[library.named() for library in libraries if library.kit in (first.code, second.code)],
            )


def kit_fits_flow_cell(kit_code: str, product_code: str) -> str | None:
    kit, cell = KITS.get(kit_code), FLOW_CELL_TYPES.get(product_code)
    if kit is None or cell is None:
        return f"{kit_code} on {product_code} is not a known combination"
    if kit.chemistry != cell.chemistry:
        return f"{kit.code} ({kit.chemistry}) does not run on {cell.product_code} ({cell.chemistry} pores)"
    return None


def warranty_threshold(product_code: str, configured: Mapping[str, int]) -> int | None:
    if product_code in configured:
        return int(configured[product_code])
    cell = FLOW_CELL_TYPES.get(product_code)
    return cell.warranty_pores if cell is not None else None


def below_warranty(pore_count: int | None, threshold: int | None) -> bool:
    return pore_count is not None and threshold is not None and pore_count < threshold
