"""``fieldhub user``: users of the hub (admins manage them) and one's own password."""

from __future__ import annotations

from typing import Any

import click

from cloud.cli.auth import keep
from cloud.cli.client import FROM_LOGIN, ApiClient
from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import col
from cloud.cli.passwords import read_password

COLUMNS = (col("USERNAME"), col("ROLE"), col("TENANT"), col("DISABLED"))
ROLES = click.Choice(["user", "admin"])


@click.group(cls=OrderedGroup)
@api_options
def user() -> None:
    """Users (admins manage those of their tenant), and your own password.

    Passwords are never options: they are asked for on a terminal, else read from stdin, one per line.
    """


@user.command("list")
@api_options
def list_users() -> None:
    """The users of your tenant (every user for the platform admin)."""
    inv = invocation()
    inv.show(inv.api().get("/api/v1/users"), COLUMNS)


@user.command()
@click.argument("username")
@api_options
def get(username: str) -> None:
    """Show the user USERNAME."""
    inv = invocation()
    inv.show(inv.api().get(f"/api/v1/users/{username}"), COLUMNS)


@user.command()
@click.argument("username")
@click.option("--role", type=ROLES, default="user", help="An admin manages the devices and users of its tenant")
@click.option("--tenant", help="The user's tenant (platform admins) [default: yours]")
@api_options
def create(username: str, role: str, tenant: str | None) -> None:
    """Create the user USERNAME; its password (12+ characters) is asked for, or read from stdin."""
    body: dict[str, Any] = {"username": username, "password": read_password("Password", confirm=True), "role": role}
    if tenant is not None:
        body["tenant"] = tenant
    inv = invocation()
    inv.show(inv.api().post("/api/v1/users", body), COLUMNS)


@user.command()
@click.argument("username")
@click.option("--password", "new_password", is_flag=True, help="Set a new password: asked for, or read from stdin")
@click.option("--role", type=ROLES, help="Give the user this role")
@click.option(
    "--disable/--enable",
    "disabled",
    default=None,
    help="A disabled user cannot sign in; its tokens and API keys are refused at once",
)
@api_options
def update(username: str, new_password: bool, role: str | None, disabled: bool | None) -> None:
    """Set USERNAME's password, role, or whether it is disabled; every token the user holds stops working at once."""
    if not new_password and role is None and disabled is None:
        raise click.UsageError("give --password, --role, --disable or --enable")
    body: dict[str, Any] = {"role": role} if role is not None else {}
    if disabled is not None:
        body["disabled"] = disabled
    if new_password:
        body["password"] = read_password("New password", confirm=True)
    inv = invocation()
    inv.show(inv.api().patch(f"/api/v1/users/{username}", body), COLUMNS)


@user.command()
@click.argument("username")
@hub_options
def delete(username: str) -> None:
    """Delete the user USERNAME; every token it holds stops working at once."""
    invocation().api().delete(f"/api/v1/users/{username}")
    click.echo(f"deleted {username}")


@user.command()
@hub_options
def password() -> None:
    """Change your own password: the current one, then the new one (12+ characters).

    Every token you hold stops working; a login kept by fieldhub login is renewed with the new password.
    """
    inv = invocation()
    api = inv.api()
    me = api.get("/api/v1/auth/me")
    current = read_password("Current password")
    new = read_password("New password", confirm=True)
    body = {"current_password": current, "new_password": new}
    api.post("/api/v1/auth/password", body, session=False)
    if api.source != FROM_LOGIN:
        click.echo(f"Password of {me['username']} changed; every token it held stopped working.")
        return
    keep(api.hub, me["username"], ApiClient(api.hub).sign_in(me["username"], new))
    click.echo(f"Password of {me['username']} changed; logged in again to {api.hub} with it.")
