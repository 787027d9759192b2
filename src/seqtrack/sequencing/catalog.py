"""What a facility's instruments, flow cells and kits are: data, not code paths.

A new kit or instrument model is a row here; the rules (barcode sets, which kits
may share a flow cell, which flow cells fit which instrument) read these rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Vendor(StrEnum):
    OXFORD_NANOPORE = "oxford_nanopore"
    ILLUMINA = "illumina"


@dataclass(frozen=True)
class FlowCellType:
    product_code: str
    name: str
    # The pore count under which ONT replaces the flow cell if checked on arrival;
    # a facility may set its own per type (sequencing settings).
    warranty_pores: int
    # Kit chemistry the pores are made for: a kit14 library on an R9.4.1 flow cell gives no usable data.
    chemistry: str


@dataclass(frozen=True)
class InstrumentModel:
    code: str
    name: str
    vendor: Vendor
    positions: tuple[str, ...]
    flow_cell_types: tuple[str, ...]


@dataclass(frozen=True)
class Kit:
    code: str
    name: str
    chemistry: str
    # Libraries on one flow cell share the adapter that the motor protein loads from:
    # ligation (LA/NA) and rapid (RA) adapted libraries are not pooled together.
    adapter: str
    barcode_prefix: str | None
    barcode_count: int

    @property
    def barcodes(self) -> tuple[str, ...]:
        if self.barcode_prefix is None:
            return ()
        return tuple(f"{self.barcode_prefix}{number:02d}" for number in range(1, self.barcode_count + 1))

    @property
    def minknow_name(self) -> str:
        # MinKNOW spells the kit with a hyphen where the product code has a dot: SQK-NBD114-24.
        return self.code.replace(".", "-")


FLOW_CELL_TYPES: dict[str, FlowCellType] = {
    cell.product_code: cell
    for cell in (
        FlowCellType("FLO-MIN114", "MinION R10.4.1", 800, "kit14"),
        FlowCellType("FLO-PRO114M", "PromethION R10.4.1", 5000, "kit14"),
        FlowCellType("FLO-FLG114", "Flongle R10.4.1", 50, "kit14"),
        FlowCellType("FLO-MIN004RA", "MinION RNA", 800, "rna004"),
        FlowCellType("FLO-PRO004RA", "PromethION RNA", 5000, "rna004"),
        FlowCellType("FLO-MIN106D", "MinION R9.4.1", 800, "kit9"),
    )
}

_MINION_CELLS = ("FLO-MIN114", "FLO-FLG114", "FLO-MIN004RA", "FLO-MIN106D")
_PROMETHION_CELLS = ("FLO-PRO114M", "FLO-PRO004RA")


def _promethion_positions(rows: int) -> tuple[str, ...]:
    # PromethION decks are numbered by column (1..N) and lettered by row (A..H): 1A, 1B, …
    return tuple(f"{column}{row}" for column in range(1, rows + 1) for row in "ABCDEFGH")


INSTRUMENT_MODELS: dict[str, InstrumentModel] = {
    model.code: model
    for model in (
        InstrumentModel("minion_mk1d", "MinION Mk1D", Vendor.OXFORD_NANOPORE, ("MN",), _MINION_CELLS),
        InstrumentModel("gridion", "GridION", Vendor.OXFORD_NANOPORE, ("X1", "X2", "X3", "X4", "X5"), _MINION_CELLS),
        InstrumentModel("p2_solo", "PromethION 2 Solo", Vendor.OXFORD_NANOPORE, ("A", "B"), _PROMETHION_CELLS),
        InstrumentModel("p2", "PromethION 2 Integrated (P2)", Vendor.OXFORD_NANOPORE, ("A", "B"), _PROMETHION_CELLS),
        InstrumentModel(
            "promethion_24", "PromethION 24", Vendor.OXFORD_NANOPORE, _promethion_positions(3), _PROMETHION_CELLS
        ),
        InstrumentModel(
            "promethion_48", "PromethION 48", Vendor.OXFORD_NANOPORE, _promethion_positions(6), _PROMETHION_CELLS
        ),
        # Illumina instruments are tracked as places runs happen; their flow cells are not in this inventory yet.
        InstrumentModel("miseq", "Illumina MiSeq", Vendor.ILLUMINA, ("A",), ()),
        InstrumentModel("nextseq_2000", "Illumina NextSeq 2000", Vendor.ILLUMINA, ("A",), ()),
        InstrumentModel("novaseq_x", "Illumina NovaSeq X", Vendor.ILLUMINA, ("A", "B"), ()),
    )
}

KITS: dict[str, Kit] = {
    kit.code: kit
    for kit in (
        Kit("SQK-LSK114", "Ligation Sequencing Kit V14", "kit14", "ligation", None, 0),
        Kit("SQK-NBD114.24", "Native Barcoding Kit 24 V14", "kit14", "ligation", "NB", 24),
        Kit("SQK-NBD114.96", "Native Barcoding Kit 96 V14", "kit14", "ligation", "NB", 96),
        Kit("SQK-RAD114", "Rapid Sequencing Kit V14", "kit14", "rapid", None, 0),
        Kit("SQK-RBK114.24", "Rapid Barcoding Kit 24 V14", "kit14", "rapid", "RB", 24),
        Kit("SQK-RBK114.96", "Rapid Barcoding Kit 96 V14", "kit14", "rapid", "RB", 96),
        Kit("SQK-PCB114.24", "PCR-cDNA Barcoding Kit V14", "kit14", "ligation", "BP", 24),
        Kit("SQK-RNA004", "Direct RNA Sequencing Kit", "rna004", "rna", None, 0),
        Kit("SQK-LSK109", "Ligation Sequencing Kit (R9.4.1)", "kit9", "ligation", None, 0),
    )
}

_BARCODE = re.compile(r"^(?:[A-Z]{2}|barcode)(\d{2,3})$")


def barcode_number(barcode: str) -> int:
    """NB05, RB05 and barcode05 are all barcode 5 to MinKNOW's demultiplexer."""
    match = _BARCODE.match(barcode)
    if match is None:
        raise ValueError(f"{barcode!r} is not a barcode name")
    return int(match.group(1))


def minknow_barcode(barcode: str) -> str:
    """The name MinKNOW writes in sample sheets and output folders: barcode05."""
    return f"barcode{barcode_number(barcode):02d}"
