"""``seqtrack audit verify``: recompute the hash chain and name the first broken link; ``checkpoint``: anchor it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seqtrack.platform.cli import fail

if TYPE_CHECKING:
    from seqtrack.audit.service import Checkpoint, Verification
    from seqtrack.settings import Settings

app = typer.Typer(no_args_is_help=True, help="The audit trail.")


async def _verify(settings: Settings, tenant_slug: str | None, checkpoint: Path | None = None) -> Verification:
    from seqtrack.audit import service
    from seqtrack.audit.chain import audit_key
    from seqtrack.audit.checkpoints import read_checkpoint
    from seqtrack.identity import service as identity
    from seqtrack.platform.database import Database

    key = audit_key(settings)
    marks = read_checkpoint(checkpoint, key) if checkpoint is not None else []
    database = Database(settings)
    try:
        async with database.snapshot_session() as session:
            tenant = None if tenant_slug is None else (await identity.tenant_by_slug(session, tenant_slug)).id
            return await service.verify(session, tenant, key=key, checkpoints=marks)
    finally:
        await database.dispose()


async def _heads(settings: Settings) -> list[Checkpoint]:
    from seqtrack.audit import service
    from seqtrack.platform.database import Database

    database = Database(settings)
    try:
        async with database.snapshot_session() as session:
            return await service.current_heads(session)
    finally:
        await database.dispose()


@app.command("checkpoint")
def checkpoint(
    file: Annotated[
        Path | None, typer.Option(help="Write the signed heads to this file (default: print them as one line).")
    ] = None,
) -> None:
    """Write every chain's head, signed with the audit key, to keep outside the database."""
    from seqtrack.audit.chain import audit_key
    from seqtrack.audit.checkpoints import signed_checkpoint
    from seqtrack.platform.cli import load_settings

    settings = load_settings()
    document = signed_checkpoint(asyncio.run(_heads(settings)), audit_key(settings))
    if file is None:
        typer.echo(document)
        return
    file.write_text(document + "\n")
    typer.echo(f"checkpoint of {document.count('tenant_id')} chain head(s) written to {file}")


@app.command("verify")
def verify(
    tenant: Annotated[str | None, typer.Option(help="Check only this facility's chain (its slug).")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="A file from `seqtrack audit checkpoint`: the chains must still reach it.")
    ] = None,
) -> None:
    """Check every audit entry's hash, link and event; exit 1 naming the first broken one."""
    from seqtrack.audit.checkpoints import CheckpointRefused
    from seqtrack.identity.errors import TenantNotFound
    from seqtrack.platform.cli import load_settings

    try:
        result = asyncio.run(_verify(load_settings(), tenant, checkpoint))
    except TenantNotFound as exc:
        # A typo must not read as "intact: 0 entries".
        fail(f"--tenant: {exc.detail}", code=2)
    except CheckpointRefused as exc:
        fail(f"--checkpoint: {exc}", code=2)
    if result.broken is None:
        typer.echo(f"audit trail intact: {result.entries} entries in {result.tenants} tenant chain(s)")
        return
    broken = result.broken
    entry = f"entry {broken.entry_id}" if broken.entry_id else "end of chain"
    fail(f"audit trail BROKEN at tenant {broken.tenant_id}, sequence {broken.sequence} ({entry}): {broken.problem}")
