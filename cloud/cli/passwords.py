"""Reading passwords: prompted for on a terminal (never echoed), else one line of stdin each.

Passwords are never options: an option's value shows in ``ps`` and in the shell's history.
"""

from __future__ import annotations

import sys

import click


def read_password(prompt: str, *, confirm: bool = False) -> str:
    """A password from the terminal (asked twice with ``confirm``) or the next line of stdin."""
    stdin = sys.stdin
    if stdin.isatty():
        value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
        return value
    value = stdin.readline().rstrip("\r\n")
    if not value:
        raise click.UsageError(f"{prompt.lower()}: expected a line on stdin (or run this on a terminal)")
    return value
