"""The probe listener (``probe_port``): health and metrics without a token, and nothing else.

An ingest replica has no other HTTP face; ``fieldhub up`` serves it beside the API, so a scraper
inside the network needs no token while ``/metrics`` on the API listener asks for one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Response

from cloud.api.system import Health, current_exposition, health
from hub.metrics import Metrics
from hub.store.backend import Database
from hub.streams.forwarder import Forwarder


def create_probe_app(
    database: Database,
    metrics: Metrics,
    broker_up: Callable[[], bool] | None,
    forwarders: Sequence[Forwarder] = (),
    directory: Callable[[], Awaitable[str]] | None = None,
) -> FastAPI:
    """``/healthz`` (store, broker link, streams, directory) and ``/metrics`` (Prometheus), nothing else."""
    app = FastAPI(title="Fieldhub probe", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", response_model=Health, response_model_exclude_none=True)
    async def healthz(response: Response) -> Health:
        return await health(database, response, None if broker_up is None else broker_up(), forwarders, directory)

    @app.get("/metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        return await current_exposition(metrics, forwarders)

    return app
