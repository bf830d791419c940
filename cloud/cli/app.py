"""``fieldhub app``: write a template app, push a directory, list, show and remove apps; deploy and update them.

Pushing zips the directory as it is (without caches, version control and virtual environments) and uploads
it; the hub checks the package before it stores anything and answers every problem at once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cloud.cli.app_logs import logs
from cloud.cli.client import ApiError
from cloud.cli.errors import fail
from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import Column, col
from cloud.cli.params import duration

APPS = "/api/v1/apps"
LIST_COLUMNS = (col("NAME"), col("TENANT"), col("LATEST"), col("VERSIONS"), col("DESCRIPTION"))
VERSION_COLUMNS = (col("NAME"), col("VERSION"), col("DIGEST"), col("SIZE"), col("CREATED BY"))
DEPLOYMENTS = "/api/v1/deployments"
DEPLOYMENT_COLUMNS = (
    col("ID"),
    col("APP"),
    col("VERSION"),
    col("STATUS"),
    Column("NODES", lambda row: ",".join(i["node"] for i in row["instances"]) or None),
    Column("NEXT START", lambda row: _utc(row.get("next_start"))),
    col("LINK"),
)
CANDIDATE_COLUMNS = (col("NODE"), col("ACCEPTED"), col("RANK"), col("REASON"))
INSTANCE_COLUMNS = (col("NODE"), col("REPLICA"), col("VERSION"), col("STATUS"), col("REASON"))
_APP_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _app_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not _APP_NAME.fullmatch(value):
        raise click.BadParameter("1-63 of a-z, 0-9 and '-', starting and ending with a letter or digit")
    return value


@click.group(cls=OrderedGroup)
@api_options
def app() -> None:
    """Apps: write a template, push a directory, list, show and remove versions; deploy them onto nodes."""


@app.command()
@click.argument("name", callback=_app_name)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
def init(name: str, directory: Path | None) -> None:
    """Write a template app called NAME into DIRECTORY [default: ./NAME].

    It serves HTTP on $PORT with /healthz, using only Python's standard library, and passes the hub's checks.
    """
    from hub.apps.template import write_template  # noqa: PLC0415 - keeps the command group light

    target = directory if directory is not None else Path(name)
    try:
        written = write_template(name, target)
    except FileExistsError as exc:
        fail(str(exc))
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"push it with: fieldhub app push {target}")


@app.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--tenant", help="Push into this tenant (platform admins) [default: default, or your own]")
@api_options
def push(directory: Path, tenant: str | None) -> None:
    """Zip DIRECTORY (fieldhub-app.toml at its root) and push it as a new version of its app.

    __pycache__, .git, .venv and *.pyc are left out. A refused package lists every problem found.
    """
    from hub.apps.template import zip_directory  # noqa: PLC0415 - keeps the command group light

    data = zip_directory(directory)
    inv = invocation()
    files = {"package": (f"{directory.resolve().name}.zip", data, "application/zip")}
    params = {"tenant": tenant} if tenant else None
    try:
        answer = inv.api().request("POST", APPS, files=files, params=params)
    except ApiError as exc:
        # Every problem of a refused package, one a line, before the one-line error.
        for detail in exc.details:
            if isinstance(detail, dict) and "problem" in detail:
                click.echo(f"  {detail.get('path') or '(package)'}: {detail['problem']}", err=True)
        raise
    inv.show(answer, VERSION_COLUMNS)


@app.command("ls")
@click.option("--tenant", help="Only this tenant's apps (platform admins; others see their own tenant)")
@api_options
def list_apps(tenant: str | None) -> None:
    """List apps, by tenant and name, with their highest version."""
    inv = invocation()
    inv.show(inv.api().get(APPS, tenant=tenant), LIST_COLUMNS)


@app.command()
@click.argument("name")
@click.option("--tenant", help="The app of this tenant (platform admins)")
@api_options
def get(name: str, tenant: str | None) -> None:
    """Show the app NAME and its versions, the highest first."""
    inv = invocation()
    answer: dict[str, Any] = inv.api().get(f"{APPS}/{name}", tenant=tenant)
    inv.printer().show(answer, answer["versions"], VERSION_COLUMNS)


@app.command()
@click.argument("target", metavar="NAME[@VERSION]")
@click.option("--tenant", help="The app of this tenant (platform admins)")
@hub_options
def rm(target: str, tenant: str | None) -> None:
    """Remove one version of an app (NAME@VERSION), or the app with every version (NAME).

    The hub refuses while a deployment uses what would be removed.
    """
    name, _, version = target.partition("@")
    path = f"{APPS}/{name}/versions/{version}" if version else f"{APPS}/{name}"
    invocation().api().request("DELETE", path, params={"tenant": tenant} if tenant else None)
    click.echo(f"removed {target}")


def _deploy_target(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, str | None]:
    name, _, version = value.partition("@")
    return _app_name(ctx, param, name), version or None


def _utc(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """RFC 3339 with a zone (``2026-11-22T10:00:00Z``), checked here so that a typo costs no request."""
    if value is None:
        return None
    for text in value if isinstance(value, tuple) else (value,):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(f"{text!r} is no RFC 3339 time such as 2026-11-22T10:00:00Z") from None
        if parsed.tzinfo is None:
            raise click.BadParameter(f"{text!r} needs a zone: Z or an offset such as +01:00")
    return value


def _run_length(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else max(1, round(duration(ctx, param, value)))


def _schedule(
    start: str | None, window: tuple[str, str] | None, cron: str | None, length: int | None, timezone: str | None
) -> dict[str, Any] | None:
    """The ``schedule`` of ``POST /deployments`` from the options; ``None``: now."""
    chosen = [name for name, value in (("--at", start), ("--window", window), ("--cron", cron)) if value is not None]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} exclude each other: give one schedule")
    if cron is None and (length is not None or timezone is not None):
        raise click.UsageError("--duration and --timezone go with --cron")
    if start is not None:
        return {"kind": "at", "start": start}
    if window is not None:
        return {"kind": "window", "start": window[0], "end": window[1]}
    if cron is not None:
        if length is None:
            raise click.UsageError("--cron needs --duration, how long each run lasts (e.g. 10m)")
        return {"kind": "cron", "cron": cron, "duration_s": length, "timezone": timezone or "UTC"}
    return None


@app.command()
@click.argument("target", metavar="NAME[@VERSION]", callback=_deploy_target)
@click.option("--replicas", type=click.IntRange(1, 64), help="Instances to run [default: the manifest's]")
@click.option(
    "--at", "start", metavar="TIME", callback=_time, help="Start at TIME (RFC 3339 with a zone), run until removed"
)
@click.option(
    "--window", nargs=2, metavar="START END", callback=_time, help="Run from START to END (RFC 3339 with a zone)"
)
@click.option("--cron", metavar="EXPR", help="Run at every time EXPR names (5 fields, or 6 with seconds first)")
@click.option(
    "--duration",
    "length",
    metavar="LENGTH",
    callback=_run_length,
    help="How long each --cron run lasts: 90s, 10m, 2h, 1d",
)
@click.option("--timezone", metavar="TZ", help="IANA time zone --cron is read in [default: UTC]")
@click.option("--tenant", help="Deploy in this tenant (platform admins)")
@api_options
def deploy(  # click passes every option by name
    *,
    target: tuple[str, str | None],
    replicas: int | None,
    start: str | None,
    window: tuple[str, str] | None,
    cron: str | None,
    length: int | None,
    timezone: str | None,
    tenant: str | None,
) -> None:
    """Deploy the app NAME (its highest version, or VERSION) onto the nodes hosting its sensors.

    At once, or on a schedule: --at TIME, --window START END, or --cron EXPR --duration 10m [--timezone TZ]
    (one of them). Prints the deployment, its link once it has one, and where it was placed or why it waits
    (pending), or when it starts (scheduled).
    """
    name, version = target
    body: dict[str, Any] = {"app": name, "version": version, "replicas": replicas}
    schedule = _schedule(start, window, cron, length, timezone)
    if schedule is not None:
        body["schedule"] = schedule
    inv = invocation()
    client = inv.api()
    answer = client.request("POST", DEPLOYMENTS, json=body, params={"tenant": tenant} if tenant else None)
    if inv.show(answer, DEPLOYMENT_COLUMNS).table:
        if answer["placement"]:
            click.echo(f"placement: {answer['placement']['reason']}")
        if answer["status"] == "scheduled":
            click.echo(f"scheduled: next start {_utc(answer['next_start'])}")
        link = answer["link"]
        click.echo(f"link: {client.hub}{link}" if link else "link: none (the app serves no HTTP)")


@app.command()
@click.option("--tenant", help="Only this tenant's deployments (platform admins; others see their own tenant)")
@api_options
def deployments(tenant: str | None) -> None:
    """List deployments, oldest first, with their status and nodes."""
    inv = invocation()
    inv.show(inv.api().get(DEPLOYMENTS, tenant=tenant), DEPLOYMENT_COLUMNS)


@app.command()
@click.argument("deployment_id", metavar="ID")
@api_options
def status(deployment_id: str) -> None:
    """Show the deployment ID: its status and instances, and why each node was chosen or rejected."""
    inv = invocation()
    answer: dict[str, Any] = inv.api().get(f"{DEPLOYMENTS}/{deployment_id}")
    printer = inv.show(answer, DEPLOYMENT_COLUMNS)
    if printer.table and answer["instances"]:
        click.echo("\ninstances:")
        printer.rows(answer["instances"], INSTANCE_COLUMNS)
    if printer.table and answer["placement"]:
        click.echo(f"\nplacement: {answer['placement']['reason']}")
        printer.rows(answer["placement"]["candidates"], CANDIDATE_COLUMNS)


@app.command()
@click.argument("deployment_id", metavar="ID")
@click.argument("version")
@click.option(
    "--grace",
    metavar="LENGTH",
    callback=_run_length,
    default="30s",
    show_default=True,
    help="How long each updated instance must run before the next is updated: 90s, 10m, 1h",
)
@api_options
def update(deployment_id: str, version: str, grace: int) -> None:
    """Update the deployment ID to VERSION of its app, one instance at a time.

    Each updated instance must run for --grace before the next one is updated; one that fails, crashes or
    restarts within it rolls the deployment back to its previous version by itself. Follow it with
    `fieldhub app status ID` (its timeline says what happened and why).
    """
    inv = invocation()
    answer = inv.api().request("PATCH", f"{DEPLOYMENTS}/{deployment_id}", json={"version": version, "grace_s": grace})
    if inv.show(answer, DEPLOYMENT_COLUMNS).table and answer["timeline"]:
        click.echo(answer["timeline"][-1]["reason"])


@app.command()
@click.argument("deployment_id", metavar="ID")
@click.argument("replicas", type=click.IntRange(1, 64))
@api_options
def scale(deployment_id: str, replicas: int) -> None:
    """Run REPLICAS instances of the deployment ID (placed like the first ones; autoscaling moves it on)."""
    inv = invocation()
    answer = inv.api().request("PATCH", f"{DEPLOYMENTS}/{deployment_id}", json={"replicas": replicas})
    inv.show(answer, DEPLOYMENT_COLUMNS)


@app.command()
@click.argument("deployment_id", metavar="ID")
@hub_options
def undeploy(deployment_id: str) -> None:
    """Stop and delete the deployment ID: its nodes are told to remove its instances."""
    invocation().api().request("DELETE", f"{DEPLOYMENTS}/{deployment_id}")
    click.echo(f"removed {deployment_id}")


app.add_command(logs)
