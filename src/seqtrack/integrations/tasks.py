"""Registers this domain's job handlers and event consumers when the worker starts."""

from __future__ import annotations

from seqtrack.integrations import account_mail, email, webhooks

__all__ = ["account_mail", "email", "webhooks"]
