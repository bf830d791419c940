"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from cloud.api import (
    apps,
    auth,
    broker_hooks,
    control,
    deployments,
    devices,
    docs_ui,
    errors,
    events,
    logs,
    nodes,
    provisioning,
    system,
    telemetry,
    tenants,
    tunnel,
    webhooks,
)
from cloud.api.body_limit import BodyLimit
from cloud.portal import serve as portal
from cloud.services import Services


def create_app(services: Services) -> FastAPI:
    """Build the API around already-running services (the composition root owns their lifetime)."""
    app = FastAPI(
        title="Fieldhub",
        version="0.1.0",
        description="MQTT-first IoT hub: devices, telemetry, state and commands.",
        # FastAPI's own pages load their assets from a CDN: the hub serves its own (docs_ui).
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    errors.install(app)
    app.add_middleware(BodyLimit, routes={("POST", apps.PATH): apps.upload_limit(services)})
    for module in (
        auth,
        tenants,
        devices,
        telemetry,
        control,
        nodes,
        apps,
        deployments,
        logs,
        events,
        webhooks,
        provisioning,
        broker_hooks,
        system,
    ):
        app.include_router(module.router)
    docs_ui.install(app)
    portal.install(app)
    # Added last, so outermost: the app links skip the API's middleware (their bodies are the apps').
    tunnel.install(app, services)
    return app
