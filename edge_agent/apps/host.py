"""The node's app host: runs exactly the instances the hub's desired set names, and reports how they fare.

The hub publishes the node's desired set (:class:`contracts.apps.NodeDeployments`) retained on
``devices/{id}/deployments``. The host compares it with what runs, by instance key (``{deployment}-{replica}``):
a new instance is started, one no longer named (or named with another package) is stopped and removed. Each
instance goes through ``fetching`` (package from the hub, digest verified), ``installing`` (the runtime
prepares each service: a virtual environment, an image), ``starting`` (services started with their ports,
bindings, env and SDK token; a service with ``[http]`` must answer its health check) and ``running``; a
service that exits makes the instance ``failed`` with the exit code and its last output lines (restarts with
backoff come with the operations work).

Every change is reported on ``devices/{id}/apps`` (:class:`contracts.apps.NodeAppsReport`, all instances at
once, coalesced); a removed instance is reported ``stopped`` once. Each receipt of the desired set reports
again, so the hub learns the truth after either side reconnects.

The host is created by the agent only when the hub first sends the node instances, so an agent without apps
never imports any of this.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import orjson
from pydantic import ValidationError

from contracts.apps import (
    DesiredInstance,
    InstancePhase,
    InstanceReport,
    NodeAppsReport,
    NodeDeployments,
    Service,
)
from contracts.nodes import InstanceLoad
from contracts.topics import apps_topic
from edge_agent.apps.load import CpuMeter
from edge_agent.apps.logs import AppLogs
from edge_agent.apps.packages import PackageStore
from edge_agent.apps.ports import PortPool
from edge_agent.apps.python import PythonRuntime
from edge_agent.apps.runtime import Launch, Runtime, RuntimeFailed
from edge_agent.apps.sdk_server import Grant, ReadingTap, SdkServer, Spool, input_source
from edge_agent.apps.supervisor import TAIL_LINES, ServiceState, supervise
from edge_agent.config import AgentConfig
from edge_agent.desired import Post
from edge_agent.sensors import SensorSet, now_ms

log = logging.getLogger(__name__)
#: Where fieldhub_sdk lives: put on every service's PYTHONPATH.
SDK_DIR = Path(__file__).with_name("sdk")
#: How an instance fares, from its services' states: the first of these that any service is in.
_WORST: tuple[InstancePhase, ...] = ("crashloop", "restarting", "starting")


@dataclass(slots=True)
class _Instance:
    desired: DesiredInstance
    status: InstancePhase = "fetching"
    reason: str = ""
    since: int = field(default_factory=now_ms)
    services: dict[str, ServiceState] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def report(self) -> InstanceReport:
        d = self.desired
        return InstanceReport(
            deployment=d.deployment,
            replica=d.replica,
            app=d.app,
            version=d.version,
            status=self.status,
            reason=self.reason,
            since=self.since,
            services={name: s.report() for name, s in self.services.items()},
        )


class AppHost:
    """Reconciles the node's instances with the desired set; see the module docstring."""

    def __init__(
        self,
        config: AgentConfig,
        post: Post,
        readings: Spool,
        logs: AppLogs,
        sensors: Callable[[], SensorSet],
    ) -> None:
        hub, apps = config.hub, config.apps
        self._config = config
        self._post = post
        self._root = apps.dir
        self.tap = ReadingTap(hub.device_id)
        self.sdk = SdkServer(apps.dir / "run" / "sdk.sock", self.tap, readings, sensors)
        self.logs = logs
        self.packages = PackageStore(apps.dir, hub.api_url, hub.device_id, hub.secret.get_secret_value(), hub.ca_file)
        python = PythonRuntime(apps.dir / "envs", apps.dir / "pids", apps.python, apps.pip_args)
        self._runtimes: dict[str, Runtime] = {"python": python}
        self._ports = PortPool(*apps.ports)
        self._desired: NodeDeployments | None = None
        self._instances: dict[str, _Instance] = {}
        self._meters: dict[str, CpuMeter] = {}
        self._gone: list[InstanceReport] = []
        self._changed = asyncio.Event()
        self._report_due = False
        self._tunnel: asyncio.Task[None] | None = None
        self._tasks: asyncio.TaskGroup | None = None

    def receive(self, payload: bytes) -> None:
        """Take a message of the deployments topic; a malformed or older set is logged and ignored."""
        try:
            desired = NodeDeployments.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("ignored a malformed desired set of apps: %s", str(exc)[:300])
            return
        if self._desired is not None and desired.version < self._desired.version:
            log.info("ignored desired set %d: older than %d", desired.version, self._desired.version)
            return
        self._desired = desired
        self._changed.set()
        self._report_soon()

    def loads(self) -> list[InstanceLoad]:
        """What each running instance uses now, for the heartbeat (python services; see :mod:`.load`)."""
        loads = []
        for instance in self._instances.values():
            d = instance.desired
            python = [s.running for s in instance.services.values() if s.running and s.spec.runtime.kind == "python"]
            meter = self._meters.setdefault(d.key, CpuMeter())
            cpu_pct, rss_mb = meter.sample([int(p.ident) for p in python]) if python else (None, None)
            loads.append(InstanceLoad(deployment=d.deployment, replica=d.replica, cpu_pct=cpu_pct, rss_mb=rss_mb))
        return loads

    def port_of(self, deployment: str, replica: int, service: str) -> int | None:
        """The local port of a running instance's service (the tunnel's resolver)."""
        instance = self._instances.get(f"{deployment}-{replica}")
        if instance is None or instance.status != "running":
            return None
        found = instance.services.get(service)
        return found.port if found is not None else None

    async def run(self) -> None:
        """Reconcile until cancelled; then stop every instance. Run again after a failure, it starts over."""
        self._changed.set()
        self._tunnel = None
        await self.sdk.start()
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                tasks.create_task(self.logs.run(), name="app-logs")
                while True:
                    await self._changed.wait()
                    self._changed.clear()
                    await self._reconcile(tasks)
        finally:
            self._tasks = None
            await self._stop_all()
            await self.logs.flush()  # the stopped services' last lines
            await self.sdk.close()
            for runtime in self._runtimes.values():
                await runtime.close()

    async def _reconcile(self, tasks: asyncio.TaskGroup) -> None:
        wanted = {d.key: d for d in (self._desired.instances if self._desired else [])}
        for key, instance in list(self._instances.items()):
            if wanted.get(key) != instance.desired:
                await self._remove(key)
        for key, desired in wanted.items():
            if key not in self._instances:
                instance = _Instance(desired)
                self._instances[key] = instance
                instance.task = tasks.create_task(self._life(instance), name=f"app-{key}")
        self.packages.forget({d.digest for d in wanted.values()})
        self._ensure_tunnel(tasks)
        self._report_soon()

    def _ensure_tunnel(self, tasks: asyncio.TaskGroup) -> None:
        """Open the tunnel for the apps' links once an instance serves HTTP (and the hub's URL is known)."""
        hub = self._config.hub
        serves_http = any(s.http is not None for d in self._instances.values() for s in d.desired.services)
        if self._tunnel is not None or not serves_http or hub.api_url is None:
            return
        from edge_agent.apps.tunnel import TunnelClient  # noqa: PLC0415 - the links' machinery, only when needed

        client = TunnelClient(hub.api_url, hub.device_id, hub.secret.get_secret_value(), hub.ca_file, self.port_of)
        self._tunnel = tasks.create_task(client.run(), name="app-tunnel")

    async def _remove(self, key: str) -> None:
        instance = self._instances.pop(key)
        self._meters.pop(key, None)
        if instance.task is not None:
            instance.task.cancel()
            # gather, not a suppressed await: a cancellation of the host itself (the agent stopping) must not
            # be swallowed with the instance's.
            await asyncio.gather(instance.task, return_exceptions=True)
        await self._stop(instance)
        shutil.rmtree(self._root / "data" / key, ignore_errors=True)
        self._set(instance, "stopped", "no longer desired on this node")
        self._gone.append(instance.report())
        log.info("instance %s of %s %s removed", key, instance.desired.app, instance.desired.version)

    async def _stop_all(self) -> None:
        for instance in list(self._instances.values()):
            if instance.task is not None:
                instance.task.cancel()
        for instance in list(self._instances.values()):
            if instance.task is not None:
                await asyncio.gather(instance.task, return_exceptions=True)
            await self._stop(instance)
        self._instances.clear()

    async def _life(self, instance: _Instance) -> None:
        """Bring one instance up and keep its services running; a failure to fetch or install ends in ``failed``."""
        desired = instance.desired
        try:
            self._set(instance, "fetching", "fetching the package")
            source = await self.packages.unpacked(desired.digest, desired.package_url)
            self._set(instance, "installing", "preparing the services")
            launches = self._launches(instance, source)
            for launch in launches:
                await self._runtime(launch.service).prepare(launch, self._sink(instance, launch.service.name))
            self._set(instance, "starting", "starting the services")
            async with asyncio.TaskGroup() as services:
                for launch in launches:
                    state = instance.services[launch.service.name]
                    runtime, sink = self._runtime(launch.service), self._sink(instance, launch.service.name)
                    changed = partial(self._follow, instance)
                    services.create_task(
                        supervise(
                            state, launch, runtime=runtime, sink=sink, settings=self._config.apps, changed=changed
                        )
                    )
        except RuntimeFailed as exc:
            self._set(instance, "failed", exc.message)
            log.warning("instance %s of %s failed: %s", desired.key, desired.app, exc.message)
            await self._stop(instance)
        except Exception as exc:  # one instance's surprise must not stop the agent or the others
            log.exception("instance %s of %s failed unexpectedly", desired.key, desired.app)
            self._set(instance, "failed", f"internal error of the agent: {exc!r}"[:1000])
            await self._stop(instance)

    def _follow(self, instance: _Instance) -> None:
        """The instance's status from its services': the worst of them, with that service's reason."""
        states = list(instance.services.values())
        for phase in _WORST:
            worst = next((s for s in states if s.status == phase), None)
            if worst is not None:
                self._set(instance, phase, worst.reason or f"service {worst.spec.name} {phase}")
                return
        self._set(instance, "running", f"{len(states)} service(s) running")

    def _launches(self, instance: _Instance, source: Path) -> list[Launch]:
        desired = instance.desired
        version_key = f"{desired.app}-{desired.version}-{desired.digest[:12]}".lower().replace("+", "-")
        workdir = self._root / "data" / desired.key
        workdir.mkdir(parents=True, exist_ok=True)
        grants: dict[str, Grant] = {}
        for spec in desired.services:
            grant = Grant(desired.app, spec.name, desired.sensors, desired.actuators, set(spec.inputs))
            self.sdk.grant(grant)
            grants[spec.name] = grant
            port = self._ports.take() if spec.http is not None else None
            instance.services[spec.name] = ServiceState(spec, port, grant.token)
        for wire in desired.wires:
            source_service, output = wire.source.split(".")
            target_service, input_ = wire.target.split(".")
            grants[source_service].wires.setdefault(output, []).append(
                input_source(grants[target_service].token, input_)
            )
        launches = []
        for name, service in instance.services.items():
            env = dict(desired.env)
            env |= {
                "FIELDHUB_SDK_TOKEN": service.token,
                "FIELDHUB_APP": desired.app,
                "FIELDHUB_APP_VERSION": desired.version,
                "FIELDHUB_DEPLOYMENT": desired.deployment,
                "FIELDHUB_INSTANCE": desired.key,
                "FIELDHUB_SERVICE": name,
                "FIELDHUB_NODE": self._config.hub.device_id,
            }
            if service.port is not None:
                env["PORT"] = str(service.port)
                # Where to listen: the node's loopback only (the hub reaches it through the tunnel); inside a
                # container, every interface of the container, whose port is published on the loopback.
                env["FIELDHUB_HOST"] = "0.0.0.0" if service.spec.runtime.kind == "container" else "127.0.0.1"  # noqa: S104
            launches.append(
                Launch(
                    key=f"{desired.key}-{name}",
                    version_key=version_key,
                    service=service.spec,
                    source=source,
                    workdir=workdir,
                    env=env,
                    port=service.port,
                    sdk_dir=SDK_DIR,
                    sdk_socket=self.sdk.path,
                )
            )
        return launches

    def _runtime(self, service: Service) -> Runtime:
        kind = service.runtime.kind
        if kind not in self._runtimes:
            from edge_agent.apps.container import ContainerRuntime  # noqa: PLC0415 - docker only for container apps

            self._runtimes[kind] = ContainerRuntime(self._config.apps.docker_host)
        return self._runtimes[kind]

    async def _stop(self, instance: _Instance) -> None:
        """Release what the instance's services held (they are stopped by their supervisors)."""
        for service in instance.services.values():
            if service.running is not None:
                try:
                    await service.running.stop(self._config.apps.stop_grace_s)
                except RuntimeFailed as exc:
                    log.warning("stopping %s failed: %s", instance.desired.key, exc.message)
                service.running = None
            if service.status in ("running", "starting", "restarting", "crashloop"):
                service.status = "stopped"
            if service.port is not None:
                self._ports.release(service.port)
                service.port = None
            self.sdk.revoke(service.token)

    def _sink(self, instance: _Instance, service: str) -> Callable[[str, str], None]:
        desired = instance.desired
        fields: dict[str, object] = {
            "app": desired.app,
            "version": desired.version,
            "deployment": desired.deployment,
            "instance": desired.key,
            "service": service,
        }
        tail = instance.services[service].tail if service in instance.services else deque(maxlen=TAIL_LINES)

        def sink(stream: str, line: str) -> None:
            tail.append(line[:500])
            self.logs.add(fields, stream, line)

        return sink

    def _set(self, instance: _Instance, status: InstancePhase, reason: str) -> None:
        if (instance.status, instance.reason) != (status, reason):
            instance.status, instance.reason, instance.since = status, reason, now_ms()
            self._report_soon()

    def _report_soon(self) -> None:
        """Report at the next turn of the loop: changes made together go out as one report."""
        if not self._report_due:
            self._report_due = True
            asyncio.get_running_loop().call_soon(self._report)

    def _report(self) -> None:
        self._report_due = False
        instances = [i.report() for i in self._instances.values()] + self._gone
        self._gone = []
        version = self._desired.version if self._desired is not None else 0
        report = NodeAppsReport(version=version, ts=now_ms(), instances=instances)
        self._post(apps_topic(self._config.hub.device_id), orjson.dumps(report.model_dump(mode="json")))
