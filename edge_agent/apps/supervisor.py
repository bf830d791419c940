"""One service of an instance, kept running by its node: started, health-checked, restarted with backoff.

The loop of a service: start it; if it serves HTTP, wait until its ``health`` path answers (within
``[apps] health_timeout_s``); while it runs, check that path every ``health_interval_s`` and call it unhealthy
after ``unhealthy_after`` failed checks in a row. When it exits or turns unhealthy it is stopped and started
again after a capped exponential backoff (``restart_min_s`` doubling up to ``restart_max_s``). A service that
stayed up ``stable_after_s`` starts counting its failures afresh; ``crash_loop_after`` failures in a row make
it a crash loop, reported as such (still restarted, at the longest backoff). None of this needs the hub: a
node cut off from it keeps its apps running and restarts them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from contracts.apps import InstancePhase, Service, ServiceReport
from edge_agent.apps.health import answers
from edge_agent.apps.runtime import Launch, LogSink, Running, Runtime, RuntimeFailed
from edge_agent.config import AppsSection

log = logging.getLogger(__name__)
#: Output lines of a service kept for the reason of its failure.
TAIL_LINES = 10
_HEALTH_POLL_S = 0.1


@dataclass(slots=True)
class ServiceState:
    """A service of an instance as its node runs it."""

    spec: Service
    port: int | None
    token: str
    status: InstancePhase = "starting"
    reason: str = ""
    running: Running | None = None
    exit_code: int | None = None
    restarts: int = 0
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def report(self) -> ServiceReport:
        ident = self.running.ident if self.running is not None else None
        pid = int(ident) if ident and self.spec.runtime.kind == "python" else None
        container = ident if self.spec.runtime.kind == "container" else None
        return ServiceReport(
            status=self.status, pid=pid, container=container, exit_code=self.exit_code, restarts=self.restarts
        )

    def failure(self, what: str) -> str:
        """``what`` with the last output lines, for a report."""
        tail = " | ".join(self.tail)
        return f"{what}; last output: {tail}" if tail else what


class Unhealthy(Exception):
    """A running service failed its health checks."""


async def supervise(
    state: ServiceState,
    launch: Launch,
    *,
    runtime: Runtime,
    sink: LogSink,
    settings: AppsSection,
    changed: Callable[[], None],
) -> None:
    """Keep one service running until cancelled (then it is stopped); ``changed`` after each change of state."""
    name = launch.service.name
    failures = 0
    try:
        while True:
            started = time.monotonic()
            state.tail.clear()  # a failure's reason quotes the output of the run that failed
            try:
                state.running = await runtime.start(launch, sink)
                log.info("started %s (%s)", launch.key, state.running.ident)
                await _until_healthy(state, settings)
                state.status, state.reason = "running", ""
                changed()
                what = await _watch(state, settings)
            except RuntimeFailed as exc:
                what = exc.message
            await _stop(state, settings)
            if time.monotonic() - started >= settings.stable_after_s:
                failures = 0
            failures += 1
            state.restarts += 1
            delay = min(settings.restart_max_s, settings.restart_min_s * 2 ** (failures - 1))
            looping = failures >= settings.crash_loop_after
            state.status = "crashloop" if looping else "restarting"
            prefix = f"crash loop ({failures} failures in a row): " if looping else ""
            state.reason = state.failure(f"{prefix}service {name} {what}; restarting in {delay:g} s")
            log.warning("%s: %s", launch.key, state.reason)
            changed()
            await asyncio.sleep(delay)
    finally:
        await _stop(state, settings)


async def _until_healthy(state: ServiceState, settings: AppsSection) -> None:
    """Return once the service answers its health check (at once without ``[http]``)."""
    http, running = state.spec.http, state.running
    if http is None or state.port is None or running is None:
        return
    exited = asyncio.ensure_future(running.wait())
    try:
        async with asyncio.timeout(settings.health_timeout_s):
            while not await answers(state.port, http.health):
                if exited.done():
                    state.exit_code = exited.result()
                    raise RuntimeFailed(f"exited with code {state.exit_code} before answering {http.health}")
                await asyncio.sleep(_HEALTH_POLL_S)
    except TimeoutError:
        raise RuntimeFailed(
            f"did not answer {http.health} on its port within {settings.health_timeout_s:g} s"
        ) from None
    finally:
        exited.cancel()


async def _watch(state: ServiceState, settings: AppsSection) -> str:
    """Wait until the service exits or fails its health checks; say which."""
    assert state.running is not None
    exited = asyncio.ensure_future(state.running.wait())
    checks = asyncio.ensure_future(_health_checks(state, settings))
    try:
        await asyncio.wait((exited, checks), return_when=asyncio.FIRST_COMPLETED)
    finally:
        checks.cancel()
    if exited.done():
        state.exit_code = exited.result()
        return f"exited with code {state.exit_code}"
    exited.cancel()
    return str(checks.exception() or "failed its health checks")


async def _health_checks(state: ServiceState, settings: AppsSection) -> None:
    """Raise :class:`Unhealthy` after ``unhealthy_after`` failed checks in a row (never without ``[http]``)."""
    http = state.spec.http
    if http is None or state.port is None:
        await asyncio.Event().wait()
        return
    missed = 0
    while True:
        await asyncio.sleep(settings.health_interval_s)
        missed = 0 if await answers(state.port, http.health) else missed + 1
        if missed >= settings.unhealthy_after:
            raise Unhealthy(f"failed {missed} health checks of {http.health} in a row")


async def _stop(state: ServiceState, settings: AppsSection) -> None:
    running, state.running = state.running, None
    if running is None:
        return
    try:
        await running.stop(settings.stop_grace_s)
    except RuntimeFailed as exc:
        log.warning("stopping a service failed: %s", exc.message)
