"""``fieldhub login`` and ``fieldhub logout``: a token per hub, kept in the user's config directory."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from cloud.cli.client import FROM_LOGIN, ApiClient, SessionRefused
from cloud.cli.config import Login, Logins
from cloud.cli.errors import CliError, fail
from cloud.cli.options import hub_option, invocation
from cloud.cli.passwords import read_password


@click.command()
@hub_option
@click.option("--username", "--user", "username", help="Who logs in [env FIELDHUB_USER; default: asked for]")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin [default: FIELDHUB_PASSWORD, else asked for]"
)
def login(username: str | None, password_stdin: bool) -> None:
    """Log in to a hub and keep its token for the commands that follow.

    The token is kept per hub in $XDG_CONFIG_HOME/fieldhub/hubs.json (~/.config/fieldhub/hubs.json),
    readable by you only; the hub becomes the default of --hub. A token lasts as long as the hub's
    token_ttl_s (an hour by default): log in again when a command says so.
    """
    hub = invocation().hub_url()
    stdin = sys.stdin
    username = username or os.environ.get("FIELDHUB_USER")
    if not username:
        if not stdin.isatty():
            raise click.UsageError("give --username (or FIELDHUB_USER) when not on a terminal")
        username = str(click.prompt("Username", err=True))
    env_password = None if password_stdin else os.environ.get("FIELDHUB_PASSWORD")
    password = env_password or read_password("Password")
    answer = ApiClient(hub).sign_in(username, password)
    client = ApiClient(hub, answer["access_token"], FROM_LOGIN)
    me = client.get("/api/v1/auth/me")
    client.close()
    logins, expires = keep(hub, me["username"], answer)
    scope = f"tenant {me['tenant']}" if me["tenant"] else "platform"
    click.echo(f"Logged in to {hub} as {me['username']} ({me['role']}, {scope}) until {expires:%Y-%m-%d %H:%M} UTC.")
    click.echo(f"Token kept in {logins.path}.")


def keep(hub: str, username: str, answer: dict[str, Any]) -> tuple[Logins, datetime]:
    """Keep the token answer of a sign-in as ``username``'s login to ``hub``; when it expires."""
    expires = datetime.now(UTC) + timedelta(seconds=int(answer.get("expires_in", 0)))
    logins = Logins.load()
    logins.put(hub, Login(username, answer["access_token"], expires.isoformat(timespec="seconds")))
    logins.save()
    return logins, expires


@click.command()
@hub_option
def logout() -> None:
    """Log out of a hub: the hub revokes the token at once and this machine forgets it."""
    hub = invocation().hub_url()
    logins = Logins.load()
    kept = logins.get(hub)
    if kept is None:
        fail(f"not logged in to {hub}")
    note = ""
    unreachable: CliError | None = None
    client = ApiClient(hub, kept.token, FROM_LOGIN)
    try:
        client.post("/api/v1/auth/logout")
    except SessionRefused:
        note = " (the token had already stopped working)"
    except CliError as exc:
        unreachable = exc
    finally:
        client.close()
    logins.forget(hub)
    logins.save()
    if unreachable is not None:
        fail(f"forgot the token of {hub}, but the hub did not revoke it: {unreachable.format_message()}")
    click.echo(f"Logged out of {hub}{note}.")
