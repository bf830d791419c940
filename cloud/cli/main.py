"""Entry point of the ``fieldhub`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

# subcommand -> (module with ``add_arguments(parser)`` and ``run(args) -> int``, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "up": ("cloud.cli.up", "run the cloud hub (broker, ingest, API) in the foreground"),
    "serve": ("cloud.cli.serve", "run one part of the hub alone: --role ingest (a replica beside fieldhub up)"),
    "device": ("cloud.cli.device", "manage devices through the HTTP API"),
    "agent": ("cloud.cli.agent", "the edge agent: run it, check its config, enroll a gateway"),
    "sim": ("cloud.cli.sim", "simulated devices publishing real MQTT"),
    "contracts": ("cloud.cli.contracts", "export the contracts' JSON Schemas"),
    "bench": ("cloud.cli.bench", "benchmarks"),
}


def build_parser(chosen: str | None) -> argparse.ArgumentParser:
    """Only the chosen subcommand's module is imported, so a Pi without hub extras can run the agent."""
    parser = argparse.ArgumentParser(prog="fieldhub", description="Fieldhub: MQTT-first IoT hub.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    try:
        args = build_parser(chosen).parse_args(argv)
        run: Callable[[argparse.Namespace], int] = args._run
        return run(args)
    except ModuleNotFoundError as exc:
        # The base install is the edge agent's; hub commands need the extra.
        print(
            f"fieldhub {chosen}: the Python package {exc.name!r} is missing; "
            'install the hub extra: pip install "fieldhub[hub]"',
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:
        # Output piped into a command that stopped reading (| head): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
