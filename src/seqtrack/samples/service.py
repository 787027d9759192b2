"""The samples domain's use cases, one module a concern; other packages call them through here.

- ``configuration``: the facility's rules (ID prefix, QC thresholds, steps, signed moves), cached by version;
- ``reading``: a sample, its history and state at a past time, lookups for other domains;
- ``registration``: registering samples (one or a whole import) and editing their details;
- ``transitions``: moving samples through the lifecycle, one or in bulk, with their steps;
- ``signatures``: the electronic signature a move may need;
- ``qc_and_steps``: QC measurements and processing steps;
- ``writing``: the one write path every change above goes through.
"""

from seqtrack.samples.configuration import (
    CLEARABLE_SETTINGS,
    SETTINGS_AGGREGATE,
    default_settings,
    read_settings,
    settings_for_write,
    update_settings,
)
from seqtrack.samples.qc_and_steps import record_qc, update_step
from seqtrack.samples.reading import (
    SampleRecord,
    find_sample,
    find_samples,
    fold,
    get_sample,
    newest_samples,
    read_sample,
    read_sample_by_code,
    read_samples,
    sample_as_of,
    sample_events,
    sample_qc,
    sample_record,
    sample_steps,
    search_samples,
)
from seqtrack.samples.registration import create_sample, create_samples, taken_barcodes, taken_names, update_sample
from seqtrack.samples.signatures import PresentedSignature, present_signature
from seqtrack.samples.transitions import Refusal, bulk_transition, move_as_system, transition
from seqtrack.samples.writing import FROZEN, SNAPSHOT_FIELDS, snapshot

__all__ = [
    "CLEARABLE_SETTINGS",
    "FROZEN",
    "SETTINGS_AGGREGATE",
    "SNAPSHOT_FIELDS",
    "PresentedSignature",
    "Refusal",
    "SampleRecord",
    "bulk_transition",
    "create_sample",
    "create_samples",
    "default_settings",
    "find_sample",
    "find_samples",
    "fold",
    "get_sample",
    "move_as_system",
    "newest_samples",
    "present_signature",
    "read_sample",
    "read_sample_by_code",
    "read_samples",
    "read_settings",
    "record_qc",
    "sample_as_of",
    "sample_events",
    "sample_qc",
    "sample_record",
    "sample_steps",
    "search_samples",
    "settings_for_write",
    "snapshot",
    "taken_barcodes",
    "taken_names",
    "transition",
    "update_sample",
    "update_settings",
    "update_step",
]
