"""Click groups: one that imports a subcommand's module only when that subcommand runs, one that keeps order.

``fieldhub agent`` must work on a Raspberry Pi with the base install alone, so neither the group's
help nor shell completion may import the hub's commands (FastAPI, httpx and the rest).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import click
from click.shell_completion import CompletionItem


@dataclass(frozen=True)
class Entry:
    """A subcommand: where its click command lives (``module:attribute``), its help and its help section."""

    target: str
    help: str
    section: str


class LazyGroup(click.Group):
    """Subcommands listed from :class:`Entry` values and imported on first use."""

    def __init__(self, *args: Any, entries: Mapping[str, Entry], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entries = dict(entries)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.entries)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.entries.get(cmd_name)
        if entry is None:
            return None
        module_name, _, attribute = entry.target.partition(":")
        try:
            module = import_module(module_name)
        except ModuleNotFoundError:
            if ctx.resilient_parsing:  # completing a word: offer nothing rather than a traceback
                return None
            raise
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for name, entry in self.entries.items():
            sections.setdefault(entry.section, []).append((name, entry.help))
        for section, rows in sections.items():
            with formatter.section(section):
                formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        items = [CompletionItem(n, help=e.help) for n, e in self.entries.items() if n.startswith(incomplete)]
        # The options of the group itself (--version, --help), as click.Command completes them.
        items.extend(click.Command.shell_complete(self, ctx, incomplete))
        return items

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Output piped into a command that stopped reading (| head): not an error. Later writes,
            # and the flush at exit, go to /dev/null instead of failing again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0


class OrderedGroup(click.Group):
    """Lists its subcommands in the order they were added (the most used first), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)
