"""The composition root of ``fieldhub serve --role ingest``: ingest alone, fed by an external broker.

Replicas share the device messages through the broker's shared subscription and write to the
same store (and streams) as ``fieldhub up``. They neither answer the API nor change accounts.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from cloud.api.probes import create_probe_app
from cloud.brokers import broker_address
from cloud.http_server import serve_http
from cloud.lifetime import Lifetime
from cloud.runtime import start_alarms, start_pipeline
from cloud.settings import ReplicaSettings
from hub.broker.downlink import Downlink
from hub.broker.mosquitto.adapter import Identities, MosquittoBroker
from hub.broker.mosquitto.sessions import session_lease
from hub.commands import CommandBus
from hub.deploy.instances import InstanceReports
from hub.errors import ConfigError
from hub.events.service import Events
from hub.follower import Followers
from hub.leader import holder_name
from hub.logs.service import LogService
from hub.logutil import bounded_accept_errors
from hub.metrics import Metrics
from hub.nodes import NodeService
from hub.presence import ReportedPresence
from hub.router import InboundRouter
from hub.state import StateService
from hub.store.factory import open_store

log = logging.getLogger(__name__)


class IngestReplica(Lifetime):
    """Store, pipeline and this replica's broker session; ``async with`` runs them."""

    def __init__(self, settings: ReplicaSettings) -> None:
        if not settings.external_broker:
            raise ConfigError("an ingest replica reads from an external broker: give --broker mqtt://host:port")
        super().__init__()
        self.settings = settings
        self.metrics = Metrics()
        self.probe_port: int | None = None

    async def _start(self) -> None:
        s = self.settings
        self._stack.enter_context(bounded_accept_errors())
        store = open_store(s.store_url)
        await store.database.open()
        self._stack.push_async_callback(store.database.close)
        # Streams follow the store; fieldhub up forwards them, whichever process stored the message.
        # Events this replica records are stored by it; the leader (hub/leader.py) keeps their retention and posts them.
        events = await self._stack.enter_async_context(Events(store.events))
        followers = Followers(store.outbox)
        pipeline = await start_pipeline(self._stack, s, store, self.metrics, followers)
        # Status, reported state, heartbeats and logs are stored by whichever replica gets them.
        presence = ReportedPresence(store.registry, self.metrics)
        downlink = Downlink()
        nodes = NodeService(store.nodes, self.metrics, LogService(store.logs).ingest)
        # Rules are evaluated where readings are stored; the leader watches for silence.
        await start_alarms(self._stack, store, events, metrics=self.metrics, pipeline=pipeline, nodes=nodes)
        router = InboundRouter(
            pipeline,
            presence,
            StateService(store.state, downlink),
            CommandBus(self.metrics, presence, downlink),
            nodes,
            # Not subscribed to app reports (the API process takes them), but the router routes every kind.
            apps=InstanceReports(store.apps, self.metrics, events),
            metrics=self.metrics,
        )
        client_id = f"fieldhub-{s.replica_id}"
        # Held from before the session opens until after it closed: a stopped replica's session is taken over.
        holder = holder_name(s.replica_id)
        await self._stack.enter_async_context(session_lease(store.leases, client_id, holder, s.leader.policy()))
        broker = MosquittoBroker(
            broker_address(s),
            client_id,
            router,
            Identities(store.registry),
            self.metrics,
            group=s.mosquitto.group,
        )
        await self._stack.enter_async_context(broker)
        downlink.connect(broker)
        if s.probe_port is not None:
            app = create_probe_app(store.database, self.metrics, lambda: broker.link_up)
            self.probe_port = await serve_http(self._stack, app, s.host, s.probe_port)
            log.info("health and metrics of replica %s on %s:%d", s.replica_id, s.host, self.probe_port)
        log.info("ingest replica %s takes its share of group %r on %s", s.replica_id, s.mosquitto.group, s.broker)


def replica_command(data_dir: Path, broker_port: int, replica_id: str) -> tuple[list[str], dict[str, str]]:
    """Command line and environment of a replica beside a hub with a managed broker on this host."""
    command = [sys.executable, "-m", "cloud.cli.main", "serve", "--role", "ingest"]
    command += ["--broker", f"mqtt://127.0.0.1:{broker_port}", "--replica-id", replica_id, "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDHUB_")}
    env["FIELDHUB_MOSQUITTO__PASSWORD_FILE"] = str(data_dir / "mosquitto" / "service.secret")
    return command, env
