"""``fieldhub command send``: a command to a device, waiting for its answer."""

from __future__ import annotations

from typing import Any

import click

from cloud.cli.errors import fail
from cloud.cli.options import api_options, invocation
from cloud.cli.output import col
from cloud.cli.params import json_object, json_pairs, nested

MAX_TIMEOUT_S = 300.0


@click.group()
@api_options
def command() -> None:
    """Commands to devices, answered over MQTT."""


@command.command()
@click.argument("device_id")
@click.argument("name")
@click.option(
    "--param",
    "params",
    metavar="KEY=VALUE",
    callback=json_pairs,
    multiple=True,
    help="A parameter (JSON value); repeatable",
)
@click.option("--params", "params_json", metavar="JSON", help="All parameters as one JSON object")
@click.option(
    "--timeout",
    type=click.FloatRange(0, MAX_TIMEOUT_S, min_open=True),
    help="Seconds to wait for the answer [default: the hub's command_timeout_s]",
)
@api_options
def send(
    device_id: str, name: str, params: tuple[tuple[str, Any], ...], params_json: str | None, timeout: float | None
) -> None:
    """Send the command NAME to DEVICE_ID and print its answer.

    Exits with 1 when the device answers with status error, the device is offline (409) or does not
    answer in time (504).

    \b
    Example:
      fieldhub command send pump-1 reboot --param delay=5 --timeout 30
    """
    base = {} if params_json is None else json_object(params_json, "'--params'")
    body: dict[str, Any] = {"params": nested(params, base)}
    if timeout is not None:
        body["timeout_s"] = timeout
    inv = invocation()
    # The hub holds the request until the device answers: wait a little longer than it does.
    answer = inv.api().request(
        "POST", f"/api/v1/devices/{device_id}/commands/{name}", json=body, timeout=(timeout or MAX_TIMEOUT_S) + 10
    )
    inv.show(answer, (col("ID"), col("STATUS"), col("RESULT"), col("ERROR")))
    if answer.get("status") == "error":
        fail(f"{device_id} answered {name} with an error: {answer.get('error') or 'no message'}")
