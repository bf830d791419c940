"""``fieldhub store``: the hub's store itself (not through the API): moving it to another backend."""

from __future__ import annotations

import asyncio

import click

from cloud.cli.errors import EXIT_USAGE, CliError
from cloud.cli.lazy import OrderedGroup

#: How often a kind's progress is printed while it is copied.
PROGRESS_EVERY_S = 1.0


class Refused(CliError):
    """A migration refused before copying anything: a usage error."""

    exit_code = EXIT_USAGE


@click.group(cls=OrderedGroup)
def store() -> None:
    """The hub's store: move it from SQLite to MongoDB."""


@store.command()
@click.option("--from", "source", required=True, metavar="URL", help="The SQLite store: sqlite:///path/to/fieldhub.db")
@click.option("--to", "target", required=True, metavar="URL", help="The MongoDB store: mongodb://host:27017/fieldhub")
@click.option("--batch", default=1000, type=click.IntRange(min=1), help="Objects read and written per step.")
@click.option("--dry-run", is_flag=True, help="Count what would be copied; write nothing.")
@click.option("--force", is_flag=True, help="Copy into a MongoDB store that holds data of another hub.")
def migrate(source: str, target: str, batch: int, dry_run: bool, force: bool) -> None:
    """Copy a hub's SQLite store into a MongoDB store, while the hub runs.

    Run it again to copy what the hub stored meanwhile: each run resumes after what the last one copied (kept in
    the target's _migration collection), and a run stopped anywhere leaves no duplicate. See docs/operations.md,
    "Moving to MongoDB".
    """
    from hub.backends import redacted  # noqa: PLC0415 - the hub extra, only when run
    from hub.errors import ConfigError, FieldhubError  # noqa: PLC0415 - the hub extra, only when run
    from hub.store.migration.run import Step, copy_store  # noqa: PLC0415

    shown: dict[str, float] = {}

    def report(step: Step) -> None:
        # A line per kind and second at most (telemetry takes a step per page of every series), and its total.
        if not step.done and step.seconds - shown.get(step.concern, -PROGRESS_EVERY_S) < PROGRESS_EVERY_S:
            return
        shown[step.concern] = step.seconds
        rate = step.copied / step.seconds if step.seconds > 0 else 0.0
        verb = "to copy" if dry_run else "copied"
        state = "done" if step.done else "..."
        click.echo(f"{step.concern:<20} {step.copied:>10} {verb}  {rate:>9.0f}/s  {state}")

    click.echo(f"{'counting' if dry_run else 'copying'} {redacted(source)} -> {redacted(target)}", err=True)
    try:
        final = asyncio.run(copy_store(source, target, batch=batch, dry_run=dry_run, force=force, report=report))
    except ConfigError as exc:
        raise Refused(exc.message) from None
    except FieldhubError as exc:
        raise CliError(exc.message) from None
    if dry_run:
        return
    if final:
        click.echo("final copy: no hub ran on the source; start the hub on the MongoDB store", err=True)
    else:
        click.echo(
            "a hub runs on the source: stop it and run this again for the final copy (a hub refuses to start on the "
            "MongoDB store until then)",
            err=True,
        )
