"""The FastAPI application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from cloud.api import (
    alarms,
    api_keys,
    apps,
    audit,
    auth,
    broker_hooks,
    channels,
    control,
    deployments,
    devices,
    docs_ui,
    errors,
    events,
    ingest,
    logs,
    nodes,
    profiles,
    provisioning,
    rules,
    system,
    telemetry,
    tenants,
    tunnel,
    webhooks,
)
from cloud.api.audit_trail import AuditTrail
from cloud.api.body_limit import BodyLimit
from cloud.portal import serve as portal
from cloud.services import Services

#: The API's routers, in the order requests are matched against them.
_ROUTERS = (
    auth,
    api_keys,
    tenants,
    devices,
    telemetry,
    ingest,
    control,
    nodes,
    apps,
    deployments,
    logs,
    events,
    webhooks,
    profiles,
    rules,
    channels,
    alarms,
    provisioning,
    audit,
    broker_hooks,
    system,
)


def _api() -> FastAPI:
    """The API's routes and error handlers: everything its OpenAPI document describes, and no services."""
    app = FastAPI(
        title="Fieldhub",
        version="0.1.0",
        description="MQTT-first IoT hub: devices, telemetry, state and commands.",
        # FastAPI's own pages load their assets from a CDN: the hub serves its own (docs_ui).
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    for module in _ROUTERS:
        app.include_router(module.router)
    return app


def create_app(services: Services) -> FastAPI:
    """Build the API around already-running services (the composition root owns their lifetime)."""
    app = _api()
    app.state.services = services
    app.add_middleware(
        BodyLimit,
        routes={
            ("POST", apps.PATH): apps.upload_limit(services),
            ("POST", ingest.PATH): ingest.body_limit(services),
        },
    )
    # Outside the body limit: its refusals are recorded too.
    app.add_middleware(AuditTrail, audit=services.audit)
    docs_ui.install(app)
    portal.install(app)
    # Added last, so outermost: the app links skip the API's middleware (their bodies are the apps').
    tunnel.install(app, services)
    return app


def openapi_document() -> dict[str, Any]:
    """The document ``/openapi.json`` serves, built offline (the portal's API types are generated from it).

    The routes left out (docs, portal, tunnel) are not in the schema; the services are only read per request.
    """
    return _api().openapi()
