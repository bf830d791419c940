"""Health, metrics, ingest statistics, the contracts' JSON Schemas and the template app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from cloud.api.deps import BearerDep, PrincipalDep, ServicesDep, get_session, same_secret
from contracts.schemas import SCHEMAS, json_schema
from hub.apps.template import template_zip
from hub.errors import NotFound
from hub.metrics import Metrics
from hub.store.backend import Database
from hub.streams.forwarder import Forwarder

router = APIRouter(tags=["system"])


class StreamHealth(BaseModel):
    name: str = Field(description="The stream's URL without credentials")
    state: str = Field(description="ok, or down while its last attempt failed (ingest goes on)")
    lag_batches: int = Field(description="Stored batches the stream has not taken yet")
    lag_seconds: float = Field(description="Age of the oldest of them")


class Health(BaseModel):
    status: str = Field(description="ok; degraded while a stream is down (ingest goes on); unavailable (503)")
    store: str
    broker: str | None = Field(default=None, description="The broker link, where the process has one of its own")
    streams: list[StreamHealth] | None = Field(default=None, description="The streams this process forwards to")
    directory: str | None = Field(
        default=None, description="The LDAP directory, where sign-in uses one: ok, or down (local users still sign in)"
    )


class IngestStats(BaseModel):
    messages: int
    points: int
    stored: int
    duplicates: int
    rejected: dict[str, int]
    flagged: dict[str, int] = Field(
        description="Messages stored although they do not fit their device's lenient profile, by reason"
    )
    refused: dict[str, int]
    dropped: dict[str, int] = Field(
        description="Connections the embedded broker closed for a limit or a protocol violation, by reason"
    )


async def health(
    database: Database,
    response: Response,
    broker_up: bool | None = None,
    forwarders: Sequence[Forwarder] = (),
    directory: Callable[[], Awaitable[str]] | None = None,
) -> Health:
    """``ok`` when the store answers (and the broker link, if given, is up); else ``unavailable`` with 503.

    A stream that is down makes it ``degraded`` but not unavailable: ingest goes on without it; so does a
    directory that is down (``directory`` tells its state): local users still sign in.
    """
    try:
        await database.ping()
        store_state = "ok"
    except Exception:  # noqa: BLE001 - health reports any failure as unavailable
        store_state = "down"
    broker = None if broker_up is None else ("ok" if broker_up else "down")
    streams = await stream_health(forwarders) if forwarders and store_state == "ok" else None
    healthy = store_state == "ok" and broker != "down"
    if not healthy:
        response.status_code = 503
    status = "ok" if healthy else "unavailable"
    if healthy and streams and any(stream.state != "ok" for stream in streams):
        status = "degraded"
    directory_state = None if directory is None else await directory()
    if healthy and directory_state == "down":
        status = "degraded"
    return Health(status=status, store=store_state, broker=broker, streams=streams, directory=directory_state)


async def stream_health(forwarders: Sequence[Forwarder]) -> list[StreamHealth]:
    """Each stream's state and lag (which also refreshes their gauges)."""
    out = []
    for forwarder in forwarders:
        status = await forwarder.status()
        out.append(
            StreamHealth(
                name=status.name,
                state="ok" if status.up else "down",
                lag_batches=status.lag_batches,
                lag_seconds=round(status.lag_seconds, 3),
            )
        )
    return out


def exposition(metrics: Metrics) -> Response:
    """The Prometheus text format of ``metrics``."""
    return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/healthz", response_model=Health, response_model_exclude_none=True)
async def healthz(services: ServicesDep, response: Response) -> Health:
    broker_up = None if services.broker_up is None else services.broker_up()
    directory = None if services.directory is None else services.directory.state
    return await health(services.store.database, response, broker_up, services.forwarders, directory)


async def current_exposition(metrics: Metrics, forwarders: Sequence[Forwarder]) -> Response:
    """:func:`exposition` with the streams' lag gauges read from the store now."""
    if forwarders:
        await stream_health(forwarders)
    return exposition(metrics)


async def require_metrics_reader(request: Request, services: ServicesDep, token: BearerDep) -> None:
    """A scraper with ``metrics_token``, or a platform admin; the probe listener needs neither."""
    expected = services.settings.metrics_token
    if expected is not None and same_secret(token, expected):
        return
    (await get_session(request, services, token)).principal.require_platform_admin()


@router.get("/metrics", response_class=Response, dependencies=[Depends(require_metrics_reader)])
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text format (a bearer: ``metrics_token`` or a platform admin's token)."""
    return await current_exposition(services.metrics, services.forwarders)


@router.get("/api/v1/ingest/stats", response_model=IngestStats)
async def ingest_stats(principal: PrincipalDep, services: ServicesDep) -> IngestStats:
    """Hub-wide ingest counters, refusals by reason included (platform admins)."""
    principal.require_platform_admin()
    m = services.metrics
    value = m.registry.get_sample_value
    return IngestStats(
        messages=int(value("fieldhub_ingest_messages_total") or 0),
        points=int(value("fieldhub_ingest_points_total") or 0),
        stored=int(value("fieldhub_store_points_written_total") or 0),
        duplicates=int(value("fieldhub_store_points_duplicate_total") or 0),
        rejected=m.rejections(),
        flagged=m.flags(),
        refused=m.refusals(),
        dropped=m.drops(),
    )


@router.get("/api/v1/contracts")
async def list_contracts() -> dict[str, list[str]]:
    return {"items": sorted(SCHEMAS)}


@router.get("/api/v1/contracts/{name}")
async def get_contract(name: str) -> dict[str, Any]:
    """The JSON Schema of one contract (public: app and device developers download these)."""
    if name not in SCHEMAS:
        raise NotFound("contract", name)
    return json_schema(name)


@router.get(
    "/api/v1/app-template",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The template app, ready to push"}},
)
async def app_template(
    name: Annotated[
        str, Query(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", description="The app's name")
    ] = "my-app",
) -> Response:
    """The template app ``fieldhub app init`` writes, as a zip with ``fieldhub-app.toml`` at its root (public)."""
    headers = {"Content-Disposition": f'attachment; filename="{name}.zip"'}
    return Response(template_zip(name), media_type="application/zip", headers=headers)
