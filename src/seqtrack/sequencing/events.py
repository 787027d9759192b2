"""The events the sequencing domain emits; the live feed and webhooks subscribe by these names."""

from __future__ import annotations

from enum import StrEnum


class SequencingEvent(StrEnum):
    INSTRUMENT_REGISTERED = "instrument.registered"
    FLOW_CELL_RECEIVED = "flow_cell.received"
    # data: pore_count, warranty_pores, below_warranty
    FLOW_CELL_CHECKED = "flow_cell.checked"
    FLOW_CELL_STATE_CHANGED = "flow_cell.state_changed"
    LIBRARY_CREATED = "library.created"
    POOL_CREATED = "pool.created"
    RUN_PLANNED = "run.planned"
    # data: from, to, experiment_id, flow_cell, samples
    RUN_STATE_CHANGED = "run.state_changed"
    RUN_RESULTS_IMPORTED = "run.results_imported"
    SETTINGS_UPDATED = "sequencing_settings.updated"


class Aggregate(StrEnum):
    INSTRUMENT = "instrument"
    FLOW_CELL = "flow_cell"
    LIBRARY = "library"
    POOL = "pool"
    RUN = "run"
    SETTINGS = "sequencing_settings"
