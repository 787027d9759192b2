"""What can go wrong with a backup, each naming what an operator must look at."""

from __future__ import annotations


class BackupError(Exception):
    """A backup could not be taken, read, verified or restored."""


class BackupCorrupt(BackupError):
    """The backup does not match its manifest; ``path`` is the file (relative to the backup) at fault."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class TargetNotEmpty(BackupError):
    """A restore would overwrite data that is already there."""


class ToolMissing(BackupError):
    """A PostgreSQL client program (pg_dump, pg_restore) is not installed."""
