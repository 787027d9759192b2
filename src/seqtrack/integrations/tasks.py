"""Registers this domain's job handlers and event consumers when the worker starts."""

from __future__ import annotations

from seqtrack.integrations import email, webhooks

__all__ = ["email", "webhooks"]
