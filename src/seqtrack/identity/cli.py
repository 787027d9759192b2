"""``seqtrack admin …``: the first administrator, without any default password."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from seqtrack.platform.cli import fail

if TYPE_CHECKING:
    from seqtrack.settings import Settings

admin_app = typer.Typer(no_args_is_help=True, help="Administrators and facilities.")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The administrator's e-mail (their log-in).")],
    tenant: Annotated[str, typer.Option(help="Facility slug; created if it does not exist.")],
    tenant_name: Annotated[str | None, typer.Option(help="Facility name when it is created.")] = None,
    display_name: Annotated[str | None, typer.Option(help="The administrator's name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input instead of prompting.")
    ] = False,
) -> None:
    """Make EMAIL an administrator of TENANT, creating the account and the facility as needed.

    An existing account is added to the facility as it is: no password is asked for or changed.
    """
    from seqtrack.platform.cli import load_settings
    from seqtrack.platform.errors import DomainError

    settings = load_settings()
    password = None if asyncio.run(_account_exists(settings, email)) else _read_password(password_stdin)
    try:
        message = asyncio.run(_create(settings, email, tenant, tenant_name, display_name, password))
    except DomainError as exc:
        fail(f"error: {exc.detail}")
    typer.echo(message)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


async def _account_exists(settings: Settings, email: str) -> bool:
    from seqtrack.identity import repository as repo
    from seqtrack.platform.database import Database

    database = Database(settings)
    try:
        async with database.read_session() as session:
            return await repo.user_by_email(session, email) is not None
    finally:
        await database.dispose()


async def _create(
    settings: Settings,
    email: str,
    slug: str,
    tenant_name: str | None,
    display_name: str | None,
    password: str | None,
) -> str:
    # Imported here: ``seqtrack admin create --help`` should not wait for the identity service.
    from seqtrack.identity import passwords, service
    from seqtrack.identity import repository as repo
    from seqtrack.identity.errors import UserNotFound
    from seqtrack.platform.actor import SYSTEM_TENANT_ID, Actor
    from seqtrack.platform.database import Database
    from seqtrack.platform.permissions import Role

    database = Database(settings)
    try:
        async with database.write_session() as session:
            found = await repo.tenant_by_slug(session, slug)
            created_tenant = found is None
            if found is None:
                found = await service.create_tenant(
                    session, slug, tenant_name or slug, Actor.system(SYSTEM_TENANT_ID, "seqtrack admin create")
                )
            actor = Actor.system(found.id, "seqtrack admin create")
            user = await repo.user_by_email(session, email)
            if user is None:
                if password is None:
                    raise UserNotFound(f"The account {email} was removed meanwhile; run the command again.")
                passwords.check_password_rules(password, email=email)
                await service.create_user(
                    session,
                    actor,
                    email=email,
                    display_name=display_name or email,
                    password=password,
                    role=Role.ADMIN,
                )
                outcome = f"created administrator {repo.normalise_email(email)}"
            else:
                # An existing account keeps its password; only the role is granted.
                await service.grant_role(session, actor, user, Role.ADMIN)
                outcome = f"{user.email} (existing account, password unchanged) is now an administrator"
        where = f"new facility '{found.slug}'" if created_tenant else f"facility '{found.slug}'"
        return f"{outcome} of {where}"
    finally:
        await database.dispose()
