"""The ``seqtrack`` command."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError

from seqtrack import __version__
from seqtrack.identity.cli import admin_app
from seqtrack.jobs import cli as jobs_cli
from seqtrack.settings import Settings, describe_validation_error, get_settings

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="SeqTrack: sample tracking for sequencing facilities."
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema migrations.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(admin_app, name="admin")


def load_settings() -> Settings:
    """Settings from the environment; a bad value stops here, naming its variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        typer.echo(describe_validation_error(exc), err=True)
        raise typer.Exit(code=2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seqtrack {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """SeqTrack command line."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default SEQTRACK_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default SEQTRACK_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default SEQTRACK_WORKERS).")] = None,
) -> None:
    """Serve the API and web UI."""
    import uvicorn

    settings = load_settings()
    uvicorn.run(
        "seqtrack.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        proxy_headers=True,
        log_config=None,
        server_header=False,
        # Live-feed streams never end on their own; without a bound a restart would wait for every browser.
        timeout_graceful_shutdown=10,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from seqtrack.platform import migrations

    migrations.upgrade(load_settings(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")]) -> None:
    """Revert migrations down to REVISION."""
    from seqtrack.platform import migrations

    migrations.downgrade(load_settings(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's current revision."""
    from seqtrack.platform import migrations

    migrations.current(load_settings())


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration and print it with secrets masked."""
    settings = load_settings()
    typer.echo(json.dumps(masked_settings(settings), indent=2, default=str))


def masked_settings(settings: Settings) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        if isinstance(getattr(settings, name), SecretStr):
            shown[name] = _mask_secret(name, getattr(settings, name))
        else:
            shown[name] = value
    shown["effective_database_url"] = _mask_url(settings.database_dsn)
    return shown


def _mask_secret(name: str, secret: SecretStr) -> str:
    if name.endswith("_url"):
        return _mask_url(secret.get_secret_value())
    return "**********"


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "**********"


jobs_cli.add_commands(app, load_settings)


def main() -> None:
    try:
        app()
    except ValidationError as exc:
        typer.echo(describe_validation_error(exc), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
