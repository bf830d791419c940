"""The options every command talking to a hub takes, before or after its subcommand.

``fieldhub device --hub URL list`` and ``fieldhub device list --hub URL`` mean the same: the group and
each of its commands take these options, and the one nearest the end of the line wins. Their values
gather in one :class:`Invocation`, the click context object.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from cloud.cli.client import ApiClient, connect
from cloud.cli.config import DEFAULT_HUB, Logins, normalize_hub
from cloud.cli.output import FORMATS, Column, Printer, note_more

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Invocation:
    """What the options of one command line said, wherever they stood on it."""

    hub: str | None = None
    username: str | None = None
    output: str | None = None
    no_headers: bool = False
    _client: ApiClient | None = field(default=None, repr=False)

    def hub_url(self) -> str:
        """``--hub``, else ``FIELDHUB_HUB`` (or its old name ``FIELDHUB_URL``), else the hub of the last login."""
        chosen = self.hub or os.environ.get("FIELDHUB_HUB") or os.environ.get("FIELDHUB_URL")
        return normalize_hub(chosen or Logins.load().current or DEFAULT_HUB)

    def api(self) -> ApiClient:
        """The hub's API with the caller's token (see :func:`cloud.cli.client.connect`); one per command."""
        if self._client is None:
            self._client = connect(self.hub_url(), self.username)
            click.get_current_context().call_on_close(self._client.close)
        return self._client

    def printer(self) -> Printer:
        return Printer(self.output or "table", headers=not self.no_headers)

    def show(self, answer: Any, columns: Sequence[Column]) -> Printer:
        """Print the hub's ``answer``, one item or a list of them (``items``); return the printer, for what follows.

        A table of one page of a longer list says on stderr how to get the next page.
        """
        printer = self.printer()
        rows = answer.get("items", [answer])
        printer.show(answer, rows, columns)
        if printer.table and "items" in answer and "total" in answer:
            note_more(answer, len(rows))
        return printer


# Option name -> Invocation field, where they differ: a command may have an argument called username.
_FIELDS = {"sign_in_as": "username"}


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    invocation = ctx.ensure_object(Invocation)
    if param.name == "json_output":
        if value:
            invocation.output = "json"
    elif value is not None and value is not False:
        setattr(invocation, _FIELDS.get(str(param.name), str(param.name)), value)
    return value


def hub_option(command: F) -> F:
    """``--hub``."""
    return click.option(
        "--hub",
        expose_value=False,
        callback=_remember,
        metavar="URL",
        help=f"Hub URL [env FIELDHUB_HUB; default: the hub of the last login, else {DEFAULT_HUB}]",
    )(command)


def hub_options(command: F) -> F:
    """``--hub`` and ``--username``."""
    command = click.option(
        "--username",
        "--user",
        "sign_in_as",
        expose_value=False,
        callback=_remember,
        help="Sign in as this user with FIELDHUB_PASSWORD, unless logged in as them [env FIELDHUB_USER; "
        "default: admin]",
    )(command)
    return hub_option(command)


def output_options(command: F) -> F:
    """``-o/--output``, ``--no-headers`` (and ``--json``, the older spelling of ``-o json``)."""
    command = click.option(
        "--json", "json_output", is_flag=True, hidden=True, expose_value=False, callback=_remember, help="-o json"
    )(command)
    command = click.option(
        "--no-headers", is_flag=True, expose_value=False, callback=_remember, help="Tables without their header line"
    )(command)
    return click.option(
        "-o",
        "--output",
        type=click.Choice(FORMATS),
        expose_value=False,
        callback=_remember,
        help="Output format [default: table]",
    )(command)


def page_options(things: str) -> Callable[[F], F]:
    """``--limit`` and ``--offset``, for a list the hub answers a page at a time (``things`` ordered by id)."""

    def add(command: F) -> F:
        command = click.option(
            "--offset", type=click.IntRange(0), default=0, help=f"Skip this many ({things} are ordered by id)"
        )(command)
        return click.option("--limit", type=click.IntRange(1, 1000), default=100, help="At most this many")(command)

    return add


def api_options(command: F) -> F:
    """Every option of a command that prints what the hub answers."""
    return hub_options(output_options(command))


def invocation() -> Invocation:
    """The :class:`Invocation` of the command running now."""
    return click.get_current_context().ensure_object(Invocation)
