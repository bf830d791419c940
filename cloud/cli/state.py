"""``fieldhub state``: a device's desired state (what it should do) and reported state (what it does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, invocation
from cloud.cli.output import col
from cloud.cli.params import file_text, json_object, json_pairs, nested

DOC_COLUMNS = (col("VERSION"), col("UPDATED"), col("STATE"))


@click.group(cls=OrderedGroup)
@api_options
def state() -> None:
    """A device's desired and reported state."""


@state.command()
@click.argument("device_id")
@api_options
def get(device_id: str) -> None:
    """The desired and the reported state of DEVICE_ID, with their versions."""
    inv = invocation()
    answer = inv.api().get(f"/api/v1/devices/{device_id}/state")
    rows = [{"kind": kind, **(answer.get(kind) or {})} for kind in ("desired", "reported")]
    inv.printer().show(answer, rows, (col("KIND"), *DOC_COLUMNS))


@state.command("set")
@click.argument("device_id")
@click.argument("document", required=False)
@click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Read it from a file (- for stdin)",
)
@click.option(
    "--set",
    "changes",
    metavar="KEY=VALUE",
    callback=json_pairs,
    multiple=True,
    help="Set one key (a.b=1 for nested ones; values are JSON, else strings); repeatable",
)
@api_options
def set_desired(device_id: str, document: str | None, path: Path | None, changes: tuple[tuple[str, Any], ...]) -> None:
    """Replace the desired state of DEVICE_ID; the device gets it at once (retained MQTT).

    Give the whole state as a JSON object (DOCUMENT, or --file), and/or change keys of it with --set.
    With --set alone, the keys change in the current desired state and the others stay.

    \b
    Examples:
      fieldhub state set pump-1 '{"interval": 5, "mode": "eco"}'
      fieldhub state set pump-1 --set mode=eco --set fan.speed=3
      fieldhub state set pump-1 -f desired.json
    """
    if document is not None and path is not None:
        raise click.UsageError("give DOCUMENT or --file, not both")
    inv = invocation()
    api = inv.api()
    if path is not None:
        document = file_text(path)
    if document is not None:
        base = json_object(document, "DOCUMENT", "the desired state is a JSON object")
    elif changes:
        base = (api.get(f"/api/v1/devices/{device_id}/state").get("desired") or {}).get("state") or {}
    else:
        raise click.UsageError("give the state: DOCUMENT, --file or --set KEY=VALUE")
    inv.show(api.put(f"/api/v1/devices/{device_id}/state/desired", nested(changes, base)), DOC_COLUMNS)
