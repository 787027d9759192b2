"""What every ``seqtrack`` command shares, below the root command and the domains' command groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        typer.echo(describe_validation_error(exc), err=True)
        raise typer.Exit(code=2) from None
