"""Finds each domain's modules of one kind (tables, tasks) without a hand-kept list."""

from __future__ import annotations

import importlib
import pkgutil

import seqtrack


def import_domain_modules(kind: str) -> None:
    """Import ``seqtrack.<domain>.<kind>`` for each domain package that has one.

    Discovery instead of a list: a new domain's tables cannot be forgotten by
    migrations or the test schema, nor its tasks by the worker.
    """
    for module in pkgutil.iter_modules(seqtrack.__path__):
        if not module.ispkg:
            continue
        name = f"seqtrack.{module.name}.{kind}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def import_all_models() -> None:
    import_domain_modules("models")
