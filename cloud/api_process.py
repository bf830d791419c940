"""The composition root of ``fieldhub serve --role api``: the HTTP API and portal, one of several processes.

API processes share the store and an external broker, and hold nothing another one needs: a load balancer may
send any request to any of them, live streams (SSE) follow the store. Each takes part in the leader election
(:mod:`hub.leader`); the one holding the lease also does the work done once per hub (:mod:`cloud.duties`),
and the holder of the lease ``streams`` forwards the outbox to the streams (:mod:`cloud.streams`).
Beside the API, each takes a share of the devices' messages from the broker's shared subscription, as an
ingest replica does. It is ``fieldhub up`` on an external broker: the same components, checked for that.
"""

from __future__ import annotations

from cloud.runtime import HubRuntime
from cloud.settings import HubSettings
from hub.errors import ConfigError


class ApiProcess(HubRuntime):
    """One API process of a hub on a shared store; ``async with`` runs it."""

    def __init__(self, settings: HubSettings) -> None:
        if not settings.external_broker:
            raise ConfigError("an API process talks to an external broker: give --broker mqtt://host:port")
        if settings.demo:
            raise ConfigError("--demo is for fieldhub up alone, not for one of several API processes")
        super().__init__(settings)
