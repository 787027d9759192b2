"""Finds every domain's tables so metadata, Alembic and tests see the whole schema."""

from __future__ import annotations

import importlib
import pkgutil

import seqtrack


def import_all_models() -> None:
    """Import ``seqtrack.<domain>.models`` for each domain package that has one.

    Discovery instead of a hand-kept list: a new domain's tables cannot be
    forgotten by migrations or by the test schema.
    """
    for module in pkgutil.iter_modules(seqtrack.__path__):
        if not module.ispkg:
            continue
        try:
            importlib.import_module(f"seqtrack.{module.name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"seqtrack.{module.name}.models":
                raise
