"""``fieldhub contracts export DIR``: write every contract's JSON Schema."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from contracts.schemas import SCHEMAS, json_schema


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write <name>.schema.json files into DIR")
    export.add_argument("directory", type=Path)


def run(args: argparse.Namespace) -> int:
    args.directory.mkdir(parents=True, exist_ok=True)
    for name in sorted(SCHEMAS):
        path = args.directory / f"{name}.schema.json"
        path.write_text(json.dumps(json_schema(name), indent=2) + "\n")
        print(path)
    return 0
