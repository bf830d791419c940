"""The HTTP face of a process without the API (an ingest replica): health and metrics only."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Response

from cloud.api.system import Health, exposition, health
from hub.metrics import Metrics
from hub.store.backend import Database


def create_probe_app(database: Database, metrics: Metrics, broker_up: Callable[[], bool]) -> FastAPI:
    """``/healthz`` (store and broker link) and ``/metrics`` (Prometheus), nothing else."""
    app = FastAPI(title="Fieldhub ingest replica", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", response_model=Health, response_model_exclude_none=True)
    async def healthz(response: Response) -> Health:
        return await health(database, response, broker_up())

    @app.get("/metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        return exposition(metrics)

    return app
