"""The one error type of the command line: a single ``fieldhub: ...`` line on stderr and exit code 1.

Usage errors stay click's own (exit code 2); a hub's refusal, an unreachable hub or a missing login
are this one.
"""

from __future__ import annotations

import sys
from typing import IO, Any, NoReturn

import click

EXIT_OK = 0
EXIT_ERROR = 1  # the hub refused or could not be reached
EXIT_USAGE = 2  # click's usage errors, and configurations refused before starting


class CliError(click.ClickException):
    """Printed as one ``fieldhub: <message>`` line; the process exits with 1."""

    exit_code = EXIT_ERROR

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"fieldhub: {self.format_message()}", file=file or sys.stderr)


def fail(message: str) -> NoReturn:
    """Stop the command with ``fieldhub: <message>`` and exit code 1."""
    raise CliError(message)
