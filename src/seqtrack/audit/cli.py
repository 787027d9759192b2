"""``seqtrack audit verify``: recompute the hash chain and name the first broken link."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from seqtrack.audit.service import Verification
    from seqtrack.settings import Settings

app = typer.Typer(no_args_is_help=True, help="The audit trail.")


async def _verify(settings: Settings, tenant: uuid.UUID | None) -> Verification:
    from seqtrack.audit import service
    from seqtrack.platform.database import Database

    database = Database(settings)
    try:
        async with database.snapshot_session() as session:
            return await service.verify(session, tenant)
    finally:
        await database.dispose()


@app.command("verify")
def verify(
    tenant: Annotated[str | None, typer.Option(help="Check only this tenant's chain (its UUID).")] = None,
) -> None:
    """Check every audit entry's hash and link; exit 1 naming the first broken one."""
    from seqtrack.platform.cli import load_settings

    tenant_id = None
    if tenant is not None:
        try:
            tenant_id = uuid.UUID(tenant)
        except ValueError:
            typer.echo(f"--tenant: {tenant!r} is not a UUID", err=True)
            raise typer.Exit(code=2) from None
    result = asyncio.run(_verify(load_settings(), tenant_id))
    if result.broken is None:
        typer.echo(f"audit trail intact: {result.entries} entries in {result.tenants} tenant chain(s)")
        return
    broken = result.broken
    entry = f"entry {broken.entry_id}" if broken.entry_id else "end of chain"
    typer.echo(
        f"audit trail BROKEN at tenant {broken.tenant_id}, sequence {broken.sequence} ({entry}): {broken.problem}",
        err=True,
    )
    raise typer.Exit(code=1)
