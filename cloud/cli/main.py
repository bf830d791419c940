"""Entry point of the ``fieldhub`` command.

Subcommands import their dependencies lazily (see :mod:`cloud.cli.lazy`), so ``fieldhub agent`` works
with the base dependencies alone. Exit codes: 0 done, 1 an error from the hub (or no hub to talk to),
2 a usage error or a configuration refused before starting.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from cloud.cli.errors import EXIT_USAGE
from cloud.cli.lazy import Entry, LazyGroup

RUN = "Run Fieldhub"
MANAGE = "Manage a hub (through its HTTP API)"

ENTRIES: dict[str, Entry] = {
    "up": Entry("cloud.cli.up:up", "Run the cloud hub (broker, ingest, API) in the foreground.", RUN),
    "serve": Entry("cloud.cli.serve:serve", "Run one part of the hub alone: an ingest replica or an API process.", RUN),
    "agent": Entry("cloud.cli.agent:agent", "The edge agent: run it, check its config, enroll a gateway.", RUN),
    "sim": Entry("cloud.cli.sim:sim", "Simulated devices publishing real MQTT.", RUN),
    "bench": Entry("cloud.cli.bench:bench", "Benchmarks, each against a baseline.", RUN),
    "store": Entry("cloud.cli.store:store", "The hub's store: move it from SQLite to MongoDB.", RUN),
    "contracts": Entry("cloud.cli.contracts:contracts", "Export the contracts' JSON Schemas.", RUN),
    "login": Entry("cloud.cli.auth:login", "Log in to a hub and keep its token.", MANAGE),
    "logout": Entry("cloud.cli.auth:logout", "Log out of a hub: revoke and forget its token.", MANAGE),
    "device": Entry("cloud.cli.device:device", "Devices: list, create, update, rotate, delete.", MANAGE),
    "telemetry": Entry("cloud.cli.telemetry:telemetry", "Telemetry: query, latest values, watch live.", MANAGE),
    "state": Entry("cloud.cli.state:state", "A device's desired and reported state.", MANAGE),
    "command": Entry("cloud.cli.command:command", "Send a command to a device and print its answer.", MANAGE),
    "node": Entry("cloud.cli.node:node", "Edge nodes (gateways): health, sensors, logs.", MANAGE),
    "token": Entry("cloud.cli.provisioning:token", "Provisioning tokens for enrolling gateways.", MANAGE),
    "app": Entry("cloud.cli.app:app", "Apps: write a template, push, list, show, remove, deploy.", MANAGE),
    "tenant": Entry("cloud.cli.tenant:tenant", "Tenants.", MANAGE),
    "user": Entry("cloud.cli.user:user", "Users, and your own password.", MANAGE),
    "apikey": Entry("cloud.cli.apikey:apikey", "API keys for scripts and CI: create, list, revoke.", MANAGE),
    "events": Entry("cloud.cli.events:events", "Platform events: list them, or follow them live.", MANAGE),
    "webhook": Entry("cloud.cli.events:webhook", "Webhooks: post a tenant's events to a URL, signed.", MANAGE),
    "profile": Entry("cloud.cli.profile:profile", "Device profiles: keys, units, ranges, labels.", MANAGE),
    "rule": Entry("cloud.cli.rule:rule", "Alarm rules: what raises an alarm, and whom it tells.", MANAGE),
    "channel": Entry("cloud.cli.channel:channel", "Notification channels: where alarms are told.", MANAGE),
    "alarm": Entry("cloud.cli.alarm:alarm", "Alarms: list, show, acknowledge, clear.", MANAGE),
    "audit": Entry("cloud.cli.audit:audit", "The audit trail: who changed what, and every sign-in.", MANAGE),
}

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}


@click.group(cls=LazyGroup, entries=ENTRIES, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="fieldhub", prog_name="fieldhub", message="%(prog)s %(version)s")
def cli() -> None:
    """Fieldhub: MQTT-first IoT hub.

    Every command takes -h/--help. Shell completion: eval "$(_FIELDHUB_COMPLETE=bash_source fieldhub)"
    (zsh_source, fish_source for those shells); see docs/cli.md.
    """


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fieldhub`` with ``argv`` (default ``sys.argv[1:]``) and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args, prog_name="fieldhub", standalone_mode=False)
        sys.stdout.flush()
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except ModuleNotFoundError as exc:
        # The base install is the edge agent's; hub commands need the extra.
        chosen = next((a for a in args if not a.startswith("-")), "")
        click.echo(
            f"fieldhub {chosen}: the Python package {exc.name!r} is missing; "
            'install the hub extra: pip install ".[hub]" in a Fieldhub checkout (or the wheel built from it)',
            err=True,
        )
        return EXIT_USAGE
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
