"""How a facility's forms name things: header synonyms, units, and the controlled vocabularies.

Submitters write "Conc. (ng/µL)", "Sample Name", "sample_id", "ligation kit 14";
SeqTrack stores ``concentration_ng_ul``, ``name``, ``SQK-LSK114``. Every reading
says how sure it is: an exact product code is certain, a loose description of a
kit is a guess a person must confirm.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from seqtrack.samples.schemas import SampleCreate

# The fields of a sample a file may fill: the samples API's own (SampleCreate), less the lab and the
# people, which a submission names once (its lab, its submitter) or staff set later, and where the data went.
_NOT_FROM_A_FILE = frozenset({"lab_id", "submitter_id", "assigned_to", "data_location"})
SAMPLE_FIELDS = tuple(name for name in SampleCreate.model_fields if name not in _NOT_FROM_A_FILE)
# Facts about the submission as a whole, kept on it rather than on each sample.
SUBMISSION_FIELDS = (
    "submitter_name",
    "submitter_email",
    "submitter_phone",
    "lab",
    "pi",
    "project",
    "billing_code",
    "reference_genome",
    "data_delivery",
)
# Fields that identify or reach a person, sealed wherever intake keeps them (intake/personal.py).
# The submitter's name is not among them: it is on every sample the submission creates.
PERSONAL_FIELDS = frozenset({"submitter_email", "submitter_phone"})
# Request-level answers of a form that apply to every sample it lists.
REQUEST_FIELDS = (
    "sample_type",
    "organism",
    "flow_cell_type",
    "flow_cell_count",
    "library_kit",
    "barcoding_kit",
    "basecalling_model",
    "priority",
)
CONTROLLED_FIELDS = ("sample_type", "flow_cell_type", "library_kit", "barcoding_kit", "priority", "basecalling_model")
NUMBER_FIELDS = {
    "genome_size_bp": int,
    "concentration_ng_ul": float,
    "volume_ul": float,
    "a260_280": float,
    "a260_230": float,
    "fragment_size_bp": int,
    "integrity_number": float,
    "flow_cell_count": int,
}

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("sample name", "sample", "name", "sample id", "sampleid", "sample identifier", "sample label"),
    "sample_type": ("sample type", "type", "material", "nucleic acid type", "sample material"),
    "organism": ("organism", "species", "source organism"),
    "genome_size_bp": ("genome size", "expected genome size", "genome size bp"),
    "concentration_ng_ul": ("conc", "concentration", "conc ng ul", "dna concentration", "qubit"),
    "volume_ul": ("volume", "vol", "volume ul", "sample volume"),
    "buffer": ("buffer", "elution buffer", "solvent"),
    "a260_280": ("a260 280", "260 280", "a260 a280", "purity 260 280", "ratio 260 280"),
    "a260_230": ("a260 230", "260 230", "a260 a230", "purity 260 230", "ratio 260 230"),
    "fragment_size_bp": ("fragment size", "fragment length", "fragment size bp", "n50", "mean fragment size", "size"),
    "integrity_number": ("din", "rin", "din rin", "rin din", "integrity", "integrity number"),
    "flow_cell_type": ("flow cell", "flow cell type", "flowcell", "flowcell type"),
    "flow_cell_count": ("number of flow cells", "flow cell count", "flow cells", "no of flow cells"),
    "library_kit": ("library kit", "kit", "library prep kit", "library preparation kit", "sequencing kit"),
    "barcoding_kit": ("barcoding kit", "barcode kit", "multiplexing kit"),
    # A nanopore form's "Barcode" is the library barcode (NB01); a tube's own label says so.
    "library_barcode": ("barcode", "ont barcode", "native barcode", "library barcode", "barcode id"),
    "barcode": ("tube barcode", "tube id", "tube", "tube label", "tube code"),
    "basecalling_model": ("basecalling", "basecalling model", "basecaller", "basecalling accuracy"),
    "priority": ("priority", "urgency"),
    "due_date": ("due date", "due", "needed by", "deadline"),
    "billing_code": ("billing code", "billing chart code", "chart string", "billing", "billing account", "account"),
    "project": ("project", "project title", "project name"),
    "submitter_name": ("submitter", "submitter name", "submitted by", "contact", "contact name"),
    "submitter_email": ("submitter email", "email", "e mail", "contact email", "submitter e mail"),
    "submitter_phone": ("phone", "submitter phone", "telephone", "phone number"),
    "lab": ("lab", "lab department", "department", "lab name", "laboratory", "group"),
    "pi": ("pi", "principal investigator", "group leader"),
    "reference_genome": ("reference genome", "reference"),
    "data_delivery": ("data delivery", "delivery", "delivery method"),
    "notes": ("notes", "note", "comments", "comment", "remarks"),
}
HEADER_FIELDS = {synonym: field for field, synonyms in _SYNONYMS.items() for synonym in synonyms}
for _field in _SYNONYMS:
    HEADER_FIELDS.setdefault(_field.replace("_", " "), _field)


@dataclass(frozen=True)
class Unit:
    """A unit a header may carry, and the factor to the unit SeqTrack stores."""

    field_suffix: str
    factor: float


# Keyed by the unit as normalised (lower case, µ as u, no spaces).
UNITS: dict[str, dict[str, float]] = {
    "concentration_ng_ul": {"ng/ul": 1, "ug/ml": 1, "ng/ml": 0.001, "pg/ul": 0.001, "ug/ul": 1000, "ng/µl": 1},
    "volume_ul": {"ul": 1, "ml": 1000, "nl": 0.001},
    "fragment_size_bp": {"bp": 1, "kb": 1000, "kbp": 1000, "mb": 1_000_000},
    "genome_size_bp": {"bp": 1, "kb": 1000, "mb": 1_000_000, "mbp": 1_000_000, "gb": 1_000_000_000},
}


@dataclass(frozen=True)
class ColumnMapping:
    column: str
    field: str | None
    unit: str | None = None
    factor: float = 1.0

    def as_json(self) -> dict[str, object]:
        return {"column": self.column, "field": self.field, "unit": self.unit, "factor": self.factor}


def _normalise_unit(text: str) -> str:
    return re.sub(r"\s+", "", text.lower().replace("µ", "u").replace("μ", "u"))


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower().replace("µ", "u").replace("μ", "u")).strip()


def map_header(column: str) -> ColumnMapping:
    """The field a column holds, and the unit its values are in."""
    text = column.strip().rstrip(":").strip()
    unit: str | None = None
    units = re.findall(r"[\(\[]([^\)\]]*)[\)\]]", text)
    bare = text
    for candidate in units:
        normalised = _normalise_unit(candidate)
        if any(normalised in table for table in UNITS.values()):
            unit = normalised
            bare = bare.replace(f"({candidate})", " ").replace(f"[{candidate}]", " ")
    field = HEADER_FIELDS.get(_key(bare))
    if field is None and unit is None:
        # "Conc ng/uL" or "volume_ul": a unit written without brackets.
        words = _key(bare).split()
        for cut in range(len(words) - 1, 0, -1):
            head, tail = " ".join(words[:cut]), "/".join(words[cut:])
            if head in HEADER_FIELDS and any(tail in table for table in UNITS.values()):
                field, unit = HEADER_FIELDS[head], tail
                break
    if field is None:
        return ColumnMapping(column, None)
    factor = 1.0
    if unit is not None:
        table = UNITS.get(field, {})
        if unit not in table:
            # "Conc. (ng/µL)" on a field without units (a ratio, a name) is just a label.
            return ColumnMapping(column, field)
        factor = float(table[unit])
    return ColumnMapping(column, field, unit, factor)


# Every field a column may be read as: the sample's own, and the submission-wide facts.
MAPPABLE_FIELDS = tuple(_SYNONYMS)


def map_column_to(column: str, field: str | None) -> ColumnMapping:
    """A person's choice of field for a column, with the unit its header names when that field has units."""
    automatic = map_header(column)
    if field is None or automatic.field == field:
        return ColumnMapping(column, None) if field is None else automatic
    table = UNITS.get(field, {})
    for candidate in re.findall(r"[\(\[]([^\)\]]*)[\)\]]", column):
        unit = _normalise_unit(candidate)
        if unit in table:
            return ColumnMapping(column, field, unit, float(table[unit]))
    return ColumnMapping(column, field)


def map_label(label: str) -> str | None:
    """A form's "Label:" in a header block (e.g. "Billing (chart) code:") as a field, or None."""
    return map_header(label).field


# ---------------------------------------------------------------- values

_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_THOUSANDS_DOT_DECIMAL_COMMA = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")
_THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_number(text: str, decimal_comma: bool = True) -> float | None:
    """A number as a person writes it: "12,5" and "1.234,5" (decimal commas), "40,000" and "1 200".

    "1,500" is 1.5 where commas are decimal (files separated by ";" or tabs) and
    1500 where they separate thousands: ``decimal_comma`` says which the file uses.
    """
    value = text.strip().replace("\u00a0", "").replace(" ", "")
    if "," in value:
        value = _without_commas(value, decimal_comma)
    try:
        number = float(value)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return number


def _without_commas(value: str, decimal_comma: bool) -> str:
    # Every reading of a comma needs one: a value without any (most of them) is a plain number already.
    ambiguous = _DECIMAL_COMMA.match(value) is not None and _THOUSANDS_COMMA.match(value) is not None
    if _THOUSANDS_DOT_DECIMAL_COMMA.match(value):
        value = value.replace(".", "").replace(",", ".")
    elif _THOUSANDS_COMMA.match(value) and not (ambiguous and decimal_comma):
        value = value.replace(",", "")
    elif _DECIMAL_COMMA.match(value):
        value = value.replace(",", ".")
    return value


SAMPLE_TYPES = {
    "genomic dna": "genomic_dna",
    "gdna": "genomic_dna",
    "genomic": "genomic_dna",
    "dna": "genomic_dna",
    "hmw dna": "hmw_dna",
    "hmw": "hmw_dna",
    "high molecular weight dna": "hmw_dna",
    "total rna": "total_rna",
    "rna": "total_rna",
    "mrna": "mrna",
    "cdna": "cdna",
    "amplicon": "amplicon",
    "amplicons": "amplicon",
    "pcr product": "amplicon",
    "library": "library",
    "other": "other",
}
PRIORITIES = {"low": "low", "normal": "normal", "standard": "normal", "high": "high", "urgent": "urgent"}
BASECALLING = {"fast": "fast", "hac": "hac", "high accuracy": "hac", "sup": "sup", "super accuracy": "sup"}

LIBRARY_KITS: dict[str, tuple[str, ...]] = {
    "SQK-LSK114": ("ligation sequencing kit v14", "ligation kit 14", "ligation sequencing kit 14", "lsk114"),
    "SQK-NBD114.24": ("native barcoding kit 24 v14", "native barcoding kit 24", "nbd114 24"),
    "SQK-NBD114.96": ("native barcoding kit 96 v14", "native barcoding kit 96", "nbd114 96"),
    "SQK-RBK114.24": ("rapid barcoding kit 24 v14", "rapid barcoding kit 24", "rbk114 24"),
    "SQK-RBK114.96": ("rapid barcoding kit 96 v14", "rapid barcoding kit 96", "rbk114 96"),
    "SQK-RAD114": ("rapid sequencing kit v14", "rapid kit 14", "rad114"),
    "SQK-ULK114": ("ultra long dna sequencing kit v14", "ultra long kit 14", "ulk114"),
    "SQK-PCS114": ("cdna pcr sequencing kit v14", "cdna pcr kit 14", "pcs114"),
    "SQK-PCB114.24": ("cdna pcr barcoding kit 24 v14", "pcb114 24"),
    "SQK-RNA004": ("direct rna sequencing kit", "direct rna kit", "rna004"),
    "SQK-16S114.24": ("16s barcoding kit 24 v14", "16s barcoding kit", "16s114 24"),
}
FLOW_CELLS: dict[str, tuple[str, ...]] = {
    "FLO-MIN114": ("minion flow cell r10 4 1", "minion r10 4 1", "minion flow cell", "min114"),
    "FLO-PRO114M": ("promethion flow cell r10 4 1", "promethion r10 4 1", "promethion flow cell", "pro114m"),
    "FLO-FLG114": ("flongle flow cell r10 4 1", "flongle r10 4 1", "flongle", "flg114"),
    "FLO-MIN004RA": ("minion rna flow cell", "min004ra"),
    "FLO-PRO004RA": ("promethion rna flow cell", "pro004ra"),
}


@dataclass(frozen=True)
class Reading:
    """A value as understood, how sure, and the text that says so."""

    value: object
    confidence: float
    evidence: str


def normalise_product(text: str, catalogue: dict[str, tuple[str, ...]]) -> Reading | None:
    """An ONT product code for what a person wrote.

    The code itself, alone or in brackets ("... (SQK-LSK114)"), is certain; a
    description ("ligation kit 14") is matched by words and says it is a guess.
    """
    written = text.strip()
    if not written:
        return None
    upper = written.upper()
    codes = sorted(catalogue, key=len, reverse=True)
    for code in codes:
        if upper == code:
            return Reading(code, 1.0, written)
    for code in codes:
        if re.search(rf"(?<![A-Z0-9.]){re.escape(code)}(?![A-Z0-9.])", upper):
            return Reading(code, 0.95, written)
    key = _key(written)
    best: tuple[float, str] | None = None
    for code, names in catalogue.items():
        for name in (_key(code), *names):
            score = _word_match(key, name)
            if best is None or score > best[0]:
                best = (score, code)
    if best is None or best[0] < 0.6:
        return None
    score, code = best
    # Never as sure as the code itself: a description can fit two products.
    return Reading(code, round(min(0.8, 0.3 + 0.5 * score), 2), written)


def _word_match(written: str, name: str) -> float:
    words, wanted = set(written.split()), set(name.split())
    if not wanted:
        return 0.0
    # Version words ("v14", "14") and numbers decide between kits of a family.
    numbers_written = {word.lstrip("v") for word in words if re.fullmatch(r"v?\d+", word)}
    numbers_wanted = {word.lstrip("v") for word in wanted if re.fullmatch(r"v?\d+", word)}
    if numbers_wanted and numbers_written and not numbers_wanted & numbers_written:
        return 0.0
    if numbers_written - numbers_wanted - {"4", "1", "10"}:
        return 0.0
    overlap = len(words & wanted) / len(wanted | words)
    return max(overlap, SequenceMatcher(None, written, name).ratio() * 0.8)


# A file repeats the same few kit, flow cell and type answers on every row: each distinct one is read once.
@functools.lru_cache(maxsize=256)
# A file repeats a handful of kits, types and priorities on every row: each is understood once.
@functools.lru_cache(maxsize=256)
def normalise_controlled(field: str, text: str) -> Reading | None:
    """The stored value of a controlled field, or None when nothing fits (the row error says what would)."""
    key = _key(text)
    if field == "library_kit" or field == "barcoding_kit":
        return normalise_product(text, LIBRARY_KITS)
    if field == "flow_cell_type":
        reading = normalise_product(re.sub(r"\(.*?\)", "", text) or text, FLOW_CELLS)
        if reading is not None and reading.confidence == 1.0 and reading.evidence != text.strip():
            # "FLO-MIN114 (R10.4.1)": the code with its pore version, still certain.
            return Reading(reading.value, 1.0, text.strip())
        if reading is None and re.fullmatch(r"FLO-[A-Z0-9.]+", text.strip().upper()):
            # A product code SeqTrack does not list yet: taken as written, to be confirmed.
            return Reading(text.strip().upper(), 0.6, text.strip())
        return reading
    table = {"sample_type": SAMPLE_TYPES, "priority": PRIORITIES, "basecalling_model": BASECALLING}.get(field)
    if table is None:
        return Reading(text, 1.0, text)
    if key in table:
        return Reading(table[key], 1.0, text.strip())
    if key.replace(" ", "_") in table.values():
        return Reading(key.replace(" ", "_"), 1.0, text.strip())
    for name, value in table.items():
        # "High accuracy (HAC)": a known name inside a longer answer.
        if re.search(rf"\b{re.escape(name)}\b", key):
            return Reading(value, 0.9, text.strip())
    return None
