"""``fieldhub contracts export DIR``: write every contract's JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from contracts.schemas import SCHEMAS, json_schema


@click.group()
def contracts() -> None:
    """The contracts of devices and the API, as JSON Schemas."""


@contracts.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> int:
    """Write one <name>.schema.json file per contract into DIRECTORY (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in sorted(SCHEMAS):
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(json_schema(name), indent=2) + "\n")
        print(path)
    return 0
