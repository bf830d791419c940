"""The composition root of ``fieldhub agent``: spool, uplink, sensors, sender, control, heartbeat.

Data path: sensor tasks -> bounded queue -> spool writer (group commit) -> spool on disk ->
sender -> MQTT (QoS 1) -> acknowledged rows deleted. Sampling never waits for the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from contracts.nodes import Heartbeat, SpoolInfo
from contracts.telemetry import Value
from contracts.topics import heartbeat_topic
from device_drivers.base import Driver, DriverError
from device_drivers.registry import create_driver
from edge_agent.config import AgentConfig, ConfigError, load_config
from edge_agent.control import CommandFailed, Control
from edge_agent.desired import DesiredStateApplier
from edge_agent.logship import LogShipper
from edge_agent.sender import Sender
from edge_agent.sensors import SensorSet, now_ms
from edge_agent.spool import Spool
from edge_agent.uplink import Uplink

if TYPE_CHECKING:
    from edge_agent.apps.host import AppHost

log = logging.getLogger(__name__)
Reading = tuple[str, Value, int]
#: Readings waiting for the spool writer; when full, sensors wait (their next sample is late, none is lost).
_QUEUE_SIZE = 10_000
_DOWNLINK_QUEUE = 100
#: Backoff of the app host's restarts after a failure of its own.
_APPS_RETRY_MIN_S = 1.0
_APPS_RETRY_MAX_S = 60.0


def agent_version() -> str:
    try:
        return version("fieldhub")
    except PackageNotFoundError:
        return "dev"


class SpoolWriter:
    """Commits readings to the spool in batches, off the event loop."""

    def __init__(self, spool: Spool, on_commit: Any) -> None:
        self._spool = spool
        self._on_commit = on_commit
        self._queue: asyncio.Queue[Sequence[Reading]] = asyncio.Queue(_QUEUE_SIZE)

    async def put(self, readings: Sequence[Reading]) -> None:
        await self._queue.put(readings)

    @staticmethod
    async def unused(_: Sequence[Reading]) -> None:
        """Stands in before the agent runs; an empty sensor set never calls it."""
        raise RuntimeError("no spool writer yet")

    async def run(self) -> None:
        while True:
            batch = list(await self._queue.get())
            while not self._queue.empty():
                batch.extend(self._queue.get_nowait())
            await asyncio.to_thread(self._spool.append_readings, batch, now_ms())
            self._on_commit()

    async def drain(self) -> None:
        """Commit what is queued (at shutdown)."""
        batch: list[Reading] = []
        while not self._queue.empty():
            batch.extend(self._queue.get_nowait())
        if batch:
            await asyncio.to_thread(self._spool.append_readings, batch, now_ms())


class Agent:
    """One running agent; :meth:`run` returns when ``stop`` is set."""

    def __init__(self, config: AgentConfig, config_path: Path | None = None) -> None:
        self.config = config
        self._config_path = config_path
        self._started = time.monotonic()
        self.spool: Spool | None = None
        self.sensors = SensorSet([], SpoolWriter.unused)
        self.sender: Sender | None = None
        self.desired: DesiredStateApplier | None = None
        #: The app host, created when the hub first gives this node instances to run.
        self.apps: AppHost | None = None
        self._writer: SpoolWriter | None = None
        self._uplink: Uplink | None = None
        self._tasks: asyncio.TaskGroup | None = None
        #: The tasks the agent cancels when it stops.
        self._background: list[asyncio.Task[Any]] = []
        self.heartbeat_interval_s = config.heartbeat.interval_s
        self._heartbeat_changed = asyncio.Event()
        self._restart_sensors = asyncio.Event()
        # Downlink messages wait here for the control task; when full, the newest is dropped
        # (the hub's command times out and desired state is retained, so nothing is lost for good).
        self._downlink: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(_DOWNLINK_QUEUE)

    async def run(self, stop: asyncio.Event) -> None:
        config = self.config
        spool = Spool(config.spool.path, int(config.spool.max_mb * 1024 * 1024))
        if (config.apps.dir / "pids").is_dir():
            # Killed outright last time? Its app services may still run, unsupervised: stop them first.
            from edge_agent.apps.leftovers import stop_leftovers  # noqa: PLC0415 - only where apps have run

            stop_leftovers(config.apps.dir / "pids")
        self.spool = spool
        shipper: LogShipper | None = None
        try:
            async with Uplink(config.hub, config.uplink, self._on_message) as uplink:
                sender = Sender(spool, uplink, config.hub.device_id, config.uplink)
                self.sender = sender
                writer = SpoolWriter(spool, sender.wake)
                self._writer, self._uplink = writer, uplink
                # Built before any task runs, so that retained desired state finds its sensors.
                self.sensors = SensorSet(config.sensors, writer.put)
                self.desired = DesiredStateApplier(config.hub.device_id, self, uplink.post)
                control = Control(
                    config.hub.device_id,
                    uplink,
                    lambda: self.sensors,
                    self._reload,
                    desired=self.desired.receive,
                    deployments=self._deployments,
                )
                if config.logs.ship:
                    shipper = LogShipper(spool, config.logs.max_per_minute, sender.wake, logging.INFO)
                    logging.getLogger().addHandler(shipper)
                async with asyncio.TaskGroup() as tasks:
                    self._tasks = tasks
                    background = [
                        tasks.create_task(sender.run(), name="sender"),
                        tasks.create_task(writer.run(), name="spool-writer"),
                        tasks.create_task(self._run_sensors(writer), name="sensors"),
                        tasks.create_task(self._control(control), name="control"),
                        tasks.create_task(self._heartbeat(uplink), name="heartbeat"),
                    ]
                    if shipper is not None:
                        background.append(tasks.create_task(shipper.run(), name="log-shipper"))
                    self._background = background
                    await stop.wait()
                    self._tasks = None
                    for task in background:
                        task.cancel()
                await writer.drain()
        finally:
            if self.desired is not None:
                self.desired.restore()
            if shipper is not None:
                logging.getLogger().removeHandler(shipper)
            spool.close()

    def set_heartbeat_interval(self, seconds: float) -> None:
        """Beat every ``seconds`` from now on (desired state); a running wait ends early."""
        if seconds != self.heartbeat_interval_s:
            self.heartbeat_interval_s = seconds
            self._heartbeat_changed.set()

    def set_batch_delay(self, seconds: float) -> None:
        """Let a partial batch wait ``seconds`` to fill from now on (desired state)."""
        if self.sender is not None:
            self.sender.batch_delay_s = seconds

    def _deployments(self, payload: bytes) -> None:
        """The node's desired set of app instances: start the app host the first time it names any."""
        if self.apps is None:
            try:
                named = orjson.loads(payload).get("instances")
            except (orjson.JSONDecodeError, AttributeError):
                named = True  # let the host say what is wrong with it
            if not named or self._tasks is None or self._writer is None or self._uplink is None:
                return
            from edge_agent.apps.host import AppHost  # noqa: PLC0415 - nodes without apps never load the machinery
            from edge_agent.apps.logs import AppLogs  # noqa: PLC0415

            assert self.spool is not None and self.sender is not None
            logs = AppLogs(self.spool, self.sender.wake)
            self.apps = AppHost(self.config, self._uplink.post, self._writer.put, logs, lambda: self.sensors)
            self.sensors.set_tap(self.apps.tap.offer)
            self._background.append(self._tasks.create_task(self._run_apps(self.apps), name="apps"))
            log.info("app host started: the hub placed apps on this node")
        self.apps.receive(payload)

    @staticmethod
    async def _run_apps(host: AppHost) -> None:
        """Run the app host; if it fails, log it and start it again: sampling and the spool go on regardless."""
        retry = _APPS_RETRY_MIN_S
        while True:
            try:
                await host.run()
            except Exception:
                log.exception("the app host failed; it restarts in %.0f s", retry)
            await asyncio.sleep(retry)
            retry = min(retry * 2, _APPS_RETRY_MAX_S)

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            self._downlink.put_nowait((topic, payload))
        except asyncio.QueueFull:
            log.warning("downlink queue full: dropped a message on %s", topic[:200])

    async def _control(self, control: Control) -> None:
        while True:
            topic, payload = await self._downlink.get()
            await control.handle(topic, payload)

    async def _run_sensors(self, writer: SpoolWriter) -> None:
        """Run the sensor set; rebuild it when ``reload_config`` brings new sensors."""
        while True:
            self._restart_sensors.clear()
            async with asyncio.TaskGroup() as tasks:
                running = tasks.create_task(self.sensors.run(), name="sensor-set")
                await self._restart_sensors.wait()
                running.cancel()
            self.sensors = SensorSet(self.config.sensors, writer.put)
            if self.apps is not None:
                self.sensors.set_tap(self.apps.tap.offer)
            if self.desired is not None:
                # Desired state outlives a reload: the new sensors (and heartbeat section) get it too.
                self.desired.apply()

    async def _reload(self) -> dict[str, Any]:
        """The ``reload_config`` command: new sensors and options; hub and spool need a restart."""
        if self._config_path is None:
            raise CommandFailed("the agent was not started from a config file")
        try:
            fresh = await asyncio.to_thread(load_config, self._config_path)
        except ConfigError as exc:
            raise CommandFailed(exc.message) from None
        needs_restart = [
            section
            for section in ("hub", "spool", "uplink", "logs")
            if getattr(fresh, section) != getattr(self.config, section)
        ]
        self.config = self.config.model_copy(update={"sensors": fresh.sensors, "heartbeat": fresh.heartbeat})
        self._restart_sensors.set()
        return {"sensors": [s.name for s in fresh.sensors], "restart_needed_for": needs_restart}

    async def _heartbeat(self, uplink: Uplink) -> None:
        system: Driver | None = create_driver("system", {})
        try:
            await system.open()  # type: ignore[union-attr]
        except DriverError as exc:
            log.info("no system metrics in heartbeats: %s", exc.message)
            system = None
        while True:
            if uplink.connected.is_set():
                beat = await self._beat(system)
                uplink.post(heartbeat_topic(self.config.hub.device_id), beat.model_dump_json().encode(), qos=0)
            self._heartbeat_changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat_interval_s):
                    await self._heartbeat_changed.wait()

    async def _beat(self, system: Driver | None) -> Heartbeat:
        metrics: dict[str, Any] = {}
        if system is not None:
            try:
                metrics = {s.field: s.value for s in await system.read() if s.field}
            except DriverError as exc:
                log.debug("system metrics unavailable: %s", exc.message)
        assert self.spool is not None
        stats = await asyncio.to_thread(self.spool.stats)
        oldest = None if stats.oldest_ms is None else max(0.0, (now_ms() - stats.oldest_ms) / 1000)
        return Heartbeat(
            ts=now_ms(),
            agent_version=agent_version(),
            uptime_s=round(time.monotonic() - self._started, 1),
            cpu_temp=metrics.get("cpu_temp"),
            load1=metrics.get("load1"),
            mem_used_pct=metrics.get("mem_used_pct"),
            disk_used_pct=metrics.get("disk_used_pct"),
            spool=SpoolInfo(depth=stats.depth, oldest_age_s=oldest, dropped=stats.dropped, bytes_used=stats.bytes_used),
            sensors=self.sensors.infos(),
            apps=self.apps.loads() if self.apps is not None else [],
        )
