"""``seqtrack backup [--to DIR]``, ``seqtrack backup verify DIR`` and ``seqtrack restore DIR``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seqtrack.platform.cli import fail

if TYPE_CHECKING:
    from seqtrack.operations.backup import Manifest, Verified
    from seqtrack.settings import Settings

backup_app = typer.Typer(
    help="Take a consistent backup of the database and file store, or verify one.",
    invoke_without_command=True,
)


async def _backup(settings: Settings, destination: Path | None, prune: bool) -> Manifest:
    from seqtrack.operations import service
    from seqtrack.platform.database import Database

    database = Database(settings)
    try:
        manifest = await service.run_backup(settings, database, destination)
    finally:
        await database.dispose()
    if prune:
        service.apply_retention(settings)
    return manifest


@backup_app.callback()
def backup(
    ctx: typer.Context,
    to: Annotated[
        Path | None,
        typer.Option("--to", help="New directory for the backup (default: a dated one under the backup dir)."),
    ] = None,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Afterwards delete backups in the backup dir beyond SEQTRACK_BACKUP_KEEP_DAILY / _KEEP_WEEKLY.",
        ),
    ] = False,
) -> None:
    """Back up the database and the file store while SeqTrack keeps serving."""
    if ctx.invoked_subcommand is not None:
        return
    from seqtrack.operations.errors import BackupError
    from seqtrack.platform.cli import load_settings

    settings = load_settings()
    try:
        manifest = asyncio.run(_backup(settings, to, prune))
    except BackupError as exc:
        fail(f"backup FAILED: {exc}")
    location = to or "the backup directory"
    typer.echo(
        f"backup written to {location}: {manifest.engine} at revision {manifest.schema_revision}, "
        f"{manifest.rows} rows in {len(manifest.tables)} tables, {len(manifest.files)} files"
    )


@backup_app.command("verify")
def verify(
    directory: Annotated[Path, typer.Argument(help="The backup directory.")],
    scratch_server: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL URL of a server to restore a PostgreSQL backup into (default: the configured one)."
        ),
    ] = None,
) -> None:
    """Restore into a scratch database and check row counts, file checksums and the audit chain."""
    from seqtrack.operations.backup import verify_backup
    from seqtrack.operations.errors import BackupError
    from seqtrack.platform.cli import load_settings

    try:
        verified: Verified = asyncio.run(verify_backup(load_settings(), directory, scratch_server))
    except BackupError as exc:
        fail(f"backup INVALID: {exc}")
    manifest = verified.manifest
    typer.echo(
        f"backup verified: {manifest.rows} rows in {len(manifest.tables)} tables match, "
        f"{len(manifest.files) + 1} files match their SHA-256, "
        f"audit trail intact ({verified.audit_entries} entries in {verified.audit_tenants} chains)"
    )


def restore(
    directory: Annotated[Path, typer.Argument(help="The backup directory.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database or file store that already holds data.")
    ] = False,
) -> None:
    """Restore a backup into this instance (stop the api and workers first)."""
    from seqtrack.operations.backup import restore as restore_backup
    from seqtrack.operations.errors import BackupError, TargetNotEmpty
    from seqtrack.platform.cli import load_settings

    try:
        manifest = asyncio.run(restore_backup(load_settings(), directory, force=force))
    except TargetNotEmpty as exc:
        fail(f"restore REFUSED: {exc}", code=3)
    except BackupError as exc:
        fail(f"restore FAILED: {exc}")
    typer.echo(
        f"restored {manifest.rows} rows and {len(manifest.files)} files from {directory} "
        f"(taken {manifest.created_at.isoformat()}, revision {manifest.schema_revision}); "
        "run `seqtrack db upgrade` if this version is newer"
    )


keys_app = typer.Typer(no_args_is_help=True, help="Keys that encrypt personal data at rest.")


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows re-encrypted per transaction.")] = 500,
    pause_seconds: Annotated[float, typer.Option(min=0, help="Pause between batches, to spare a busy server.")] = 0.0,
) -> None:
    """Re-encrypt every stored personal value under the active key (safe to stop and run again)."""
    from seqtrack.operations import keys
    from seqtrack.platform.cli import load_settings
    from seqtrack.platform.database import Database

    async def run() -> keys.Rotation:
        database = Database(load_settings())
        try:
            return await keys.rotate(
                database,
                batch_size=batch_size,
                pause_seconds=pause_seconds,
                on_batch=lambda column, done: typer.echo(f"{column}: {done} re-encrypted"),
            )
        finally:
            await database.dispose()

    rotation = asyncio.run(run())
    typer.echo(f"every personal value is under key {rotation.active_key} ({rotation.rewritten} re-encrypted)")


@keys_app.command("status")
def keys_status() -> None:
    """How many stored values each key sealed, per column."""
    from seqtrack.operations import keys
    from seqtrack.platform.cli import load_settings
    from seqtrack.platform.database import Database

    async def run() -> dict[str, object]:
        database = Database(load_settings())
        try:
            usage = await keys.key_usage(database)
            return {"active_key": database.keyring.active_id, "columns": {k: dict(v) for k, v in usage.items()}}
        finally:
            await database.dispose()

    import json

    typer.echo(json.dumps(asyncio.run(run()), indent=2))


@keys_app.command("generate")
def keys_generate(key_id: Annotated[str, typer.Argument(help="The new key's id, e.g. 2026-12.")]) -> None:
    """Print a new key set entry: add it to SEQTRACK_PII_KEYS_FILE's "keys", make it "active", then rotate."""
    import json

    from seqtrack.platform.crypto import new_key

    typer.echo(json.dumps({key_id: new_key()}))
