"""What the samples domain refuses, free of HTTP."""

from __future__ import annotations

from seqtrack.platform.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed, RuleViolation


class SampleNotFound(NotFound, code="sample.not_found", title="Sample not found"): ...


class StepNotFound(NotFound, code="sample.step_not_found", title="Processing step not found"): ...


class IllegalTransition(Conflict, code="sample.illegal_transition", title="Transition not allowed"): ...


class TransitionGuardFailed(Conflict, code="sample.guard_failed", title="Transition blocked by a lab rule"): ...


class BulkTransitionRefused(Conflict, code="sample.bulk_refused", title="Bulk transition refused"): ...


class SampleChanged(PreconditionFailed, code="sample.changed", title="Sample changed since it was read"): ...


class DuplicateBarcode(Conflict, code="sample.duplicate_barcode", title="Barcode already in use"): ...


class QcNotAllowed(Conflict, code="sample.qc_not_allowed", title="QC not recorded in this state"): ...


class SampleClosed(Conflict, code="sample.closed", title="Sample is closed"): ...


class SignatureRequired(RuleViolation, code="sample.signature_required", title="Electronic signature required"): ...


class SignatureRejected(Forbidden, code="sample.signature_rejected", title="Electronic signature rejected"): ...


class InvalidSampleField(InvalidInput, code="sample.invalid_field"): ...


class InvalidSettings(InvalidInput, code="sample.invalid_settings"): ...


class AlreadyLoaded(Conflict, code="sample.demo_already_loaded", title="Demo data already loaded"): ...
