"""The events the samples domain emits; consumers (e-mail, webhooks) subscribe by these names."""

from __future__ import annotations

from enum import StrEnum


class SampleEvent(StrEnum):
    CREATED = "sample.created"
    UPDATED = "sample.updated"
    # data: from, to, reason, human_id (and the signature when the move is signed)
    STATUS_CHANGED = "sample.status_changed"
    QC_RECORDED = "sample.qc_recorded"
    STEP_UPDATED = "sample.step_updated"


SETTINGS_UPDATED = "sample_settings.updated"
