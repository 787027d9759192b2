"""What the sequencing domain refuses, free of HTTP."""

from __future__ import annotations

from seqtrack.platform.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation


class InstrumentNotFound(NotFound, code="sequencing.instrument_not_found", title="Instrument not found"): ...


class FlowCellNotFound(NotFound, code="sequencing.flow_cell_not_found", title="Flow cell not found"): ...


class LibraryNotFound(NotFound, code="sequencing.library_not_found", title="Library not found"): ...


class PoolNotFound(NotFound, code="sequencing.pool_not_found", title="Pool not found"): ...


class RunNotFound(NotFound, code="sequencing.run_not_found", title="Run not found"): ...


class NameTaken(Conflict, code="sequencing.name_taken", title="Name already in use"): ...


class IllegalFlowCellMove(
    Conflict, code="sequencing.illegal_flow_cell_transition", title="Flow cell transition not allowed"
): ...


class IllegalRunMove(Conflict, code="sequencing.illegal_run_transition", title="Run transition not allowed"): ...


class PoolRefused(RuleViolation, code="sequencing.pool_refused", title="Pool refused"):
    """Barcodes that would clash, barcodes outside a kit, or kits that cannot share a flow cell."""


class RunRefused(RuleViolation, code="sequencing.run_refused", title="Run refused"): ...


class SamplesNotReady(Conflict, code="sequencing.samples_not_ready", title="Samples not ready"): ...


class SamplePermissionMissing(
    Forbidden, code="sequencing.sample_permission_missing", title="Moving samples needs the samples permission"
): ...


class InvalidSequencingField(InvalidInput, code="sequencing.invalid_field"): ...


class InvalidRunReport(InvalidInput, code="sequencing.invalid_run_report"): ...
