"""The ``seqtrack`` command.

Start-up time is part of the interface: an operator types ``seqtrack --version``
or ``seqtrack jobs dead`` and waits for every module the process imports. So
this module imports nothing heavy at the top, each command imports what it runs
inside its function, and the command groups of other packages (``admin``,
``audit``, ``demo``, ``jobs``) are loaded only when one of them is called.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

import typer
from typer.core import TyperGroup

from seqtrack.platform.cli import fail, load_settings

if TYPE_CHECKING:
    from pydantic import SecretStr
    from typer._click import Command, Context, HelpFormatter

    from seqtrack.settings import Settings


class LazyGroup(NamedTuple):
    module: str
    attribute: str  # the module's Typer app
    summary: str  # the one line shown in ``seqtrack --help``


LAZY_GROUPS: dict[str, LazyGroup] = {
    "audit": LazyGroup("seqtrack.audit.cli", "app", "The audit trail."),
    "demo": LazyGroup("seqtrack.demo", "app", "Demo data for a first look."),
    "admin": LazyGroup("seqtrack.identity.cli", "admin_app", "Administrators and facilities."),
    "jobs": LazyGroup("seqtrack.jobs.cli", "jobs_app", "Inspect and replay background jobs."),
    "backup": LazyGroup(
        "seqtrack.operations.cli", "backup_app", "Back up the database and file store, or verify a backup."
    ),
    "keys": LazyGroup("seqtrack.operations.cli", "keys_app", "Keys that encrypt personal data at rest."),
}

# What a group needs loaded beside it that its own package may not import: verifying the audit
# trail checks the event store, which the events package provides (it depends on audit, not back).
PRELOADED: dict[str, tuple[str, ...]] = {"audit": ("seqtrack.events.recorder",)}


class LazyGroups(TyperGroup):
    """The root command: groups listed in LAZY_GROUPS are imported only when called."""

    _describing = False

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY_GROUPS if name not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in LAZY_GROUPS:
            return found
        module_name, attribute, help_text = LAZY_GROUPS[cmd_name]
        if self._describing:
            # Listing the commands needs only their names and one line each.
            return TyperGroup(name=cmd_name, help=help_text)
        for needed in PRELOADED.get(cmd_name, ()):
            importlib.import_module(needed)
        group = typer.main.get_group(getattr(importlib.import_module(module_name), attribute))
        group.name = cmd_name
        self.commands[cmd_name] = group
        return group

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._describing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._describing = False


app = typer.Typer(
    cls=LazyGroups,
    no_args_is_help=True,
    add_completion=False,
    help="SeqTrack: sample tracking for sequencing facilities.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema migrations.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")


def _version(value: bool) -> None:
    if value:
        from seqtrack import __version__

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

    from seqtrack.platform import serving

    settings = load_settings()
    config = uvicorn.Config(
        "seqtrack.app:create_served_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        # Forwarded headers are the app's to judge, against SEQTRACK_TRUSTED_PROXIES only.
        proxy_headers=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    serving.serve(config)


@app.command()
def worker() -> None:
    """Run a background worker: jobs, schedules, the outbox relay and event consumers."""
    from seqtrack.jobs.cli import run_worker

    run_worker(load_settings())


@app.command()
def restore(
    directory: Annotated[Path, typer.Argument(help="The backup directory.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a database or file store that holds data.")] = False,
) -> None:
    """Restore a backup into this instance (stop the api and workers first)."""
    from seqtrack.operations.cli import restore as run_restore

    run_restore(directory, force)


def _migrate(direction: Literal["upgrade", "downgrade"], revision: str) -> None:
    from seqtrack.platform import migrations

    move = migrations.upgrade if direction == "upgrade" else migrations.downgrade
    try:
        move(load_settings(), revision)
    except migrations.DatabaseNewerThanCode as exc:
        fail(f"db {direction} REFUSED: {exc}", code=2)
    typer.echo(f"database at {revision}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    _migrate("upgrade", revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")]) -> None:
    """Revert migrations down to REVISION."""
    _migrate("downgrade", revision)


@db_app.command("current")
def db_current() -> None:
    """Show the database's current revision."""
    from seqtrack.platform import migrations

    migrations.current(load_settings())


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration and print it with secrets masked."""
    import json

    settings = load_settings()
    typer.echo(json.dumps(masked_settings(settings), indent=2, default=str))


def masked_settings(settings: Settings) -> dict[str, Any]:
    from pydantic import SecretStr

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


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        # The one answer that needs no command parser at all.
        from seqtrack import __version__

        print(f"seqtrack {__version__}")  # noqa: T201
        return
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as exc:
        from seqtrack.settings import describe_validation_error

        typer.echo(describe_validation_error(exc), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
