"""Registers this domain's event consumers when the worker starts."""

from __future__ import annotations

from seqtrack.storage import consumers

__all__ = ["consumers"]
