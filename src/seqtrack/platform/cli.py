"""What every ``seqtrack`` command shares, below the root command and the domains' command groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from seqtrack.settings import Settings


def load_settings() -> Settings:
    """Settings from the environment; a bad value stops here, naming its variable."""
    from pydantic import ValidationError

    from seqtrack.settings import describe_validation_error, get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        fail(describe_validation_error(exc), code=2)


def fail(message: str, code: int = 1) -> NoReturn:
    """End the command: ``message`` on standard error, ``code`` as the exit status scripts test."""
    typer.echo(message, err=True)
    # The message says what went wrong; a chained traceback would only bury it.
    raise typer.Exit(code=code) from None
