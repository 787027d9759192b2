"""``seqtrack demo load``: a living facility in a new tenant, across the domains.

Each domain loads its own part through its own services (samples, then the
storage they are kept in); this command only puts them in order.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from seqtrack.platform.database import Database
from seqtrack.samples import demo as samples_demo
from seqtrack.samples.errors import AlreadyLoaded
from seqtrack.settings import Settings
from seqtrack.storage import demo as storage_demo

app = typer.Typer(no_args_is_help=True, help="Demo data.")


async def _run(settings: Settings, slug: str, count: int) -> tuple[samples_demo.DemoFacility, storage_demo.StorageDemo]:
    database = Database(settings)
    try:
        facility = await samples_demo.load(database, slug, count)
        stored = await storage_demo.load(database, facility.tenant_id)
        return facility, stored
    finally:
        await database.dispose()


@app.command("load")
def load_command(
    tenant: Annotated[str, typer.Option(help="Slug of the new demo tenant.")] = "demo",
    samples: Annotated[int, typer.Option(min=1, max=20_000, help="How many samples.")] = 300,
) -> None:
    """Create a demo facility: labs, staff, samples in every state with QC and steps, freezers and boxes."""
    from seqtrack.platform.cli import load_settings

    try:
        facility, stored = asyncio.run(_run(load_settings(), tenant, samples))
    except AlreadyLoaded as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"loaded {facility.samples} demo samples into tenant '{facility.slug}' ({facility.tenant_id})")
    typer.echo(f"storage: {stored.units} units, {stored.boxes} boxes, {stored.placed} samples placed")
    typer.echo("accounts (passwords are shown only now):")
    for account in facility.accounts:
        typer.echo(f"  {account.role.value:<11} {account.email:<48} {account.password}")
