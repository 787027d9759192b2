"""Prometheus metrics of the samples domain, counted only once the change has committed."""

from __future__ import annotations

from prometheus_client import Counter

SAMPLES_CREATED = Counter("seqtrack_samples_created_total", "Samples registered.")
SAMPLE_TRANSITIONS = Counter(
    "seqtrack_sample_transitions_total", "Sample lifecycle moves, by source and target state.", ["source", "target"]
)
