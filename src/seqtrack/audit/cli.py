"""``seqtrack audit verify``: recompute the hash chain and name the first broken link."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from seqtrack.audit.service import Verification
    from seqtrack.settings import Settings

app = typer.Typer(no_args_is_help=True, help="The audit trail.")


async def _verify(settings: Settings, tenant_slug: str | None) -> Verification:
    from seqtrack.audit import service
    from seqtrack.identity import service as identity
    from seqtrack.platform.database import Database

    database = Database(settings)
    try:
        async with database.snapshot_session() as session:
            tenant_id = None if tenant_slug is None else (await identity.tenant_by_slug(session, tenant_slug)).id
            return await service.verify(session, tenant_id)
    finally:
        await database.dispose()


@app.command("verify")
def verify(
    tenant: Annotated[str | None, typer.Option(help="Check only this facility's chain (its slug).")] = None,
) -> None:
    """Check every audit entry's hash and link; exit 1 naming the first broken one."""
    from seqtrack.identity.errors import TenantNotFound
    from seqtrack.platform.cli import load_settings

    try:
        result = asyncio.run(_verify(load_settings(), tenant))
    except TenantNotFound as exc:
        # A typo must not read as "intact: 0 entries".
        typer.echo(f"--tenant: {exc.detail}", err=True)
        raise typer.Exit(code=2) from None
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
