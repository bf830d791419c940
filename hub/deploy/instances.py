"""What nodes say of the instances they run: each instance's status on its deployment, and the deployment's.

A node publishes :class:`contracts.apps.NodeAppsReport` on ``devices/{id}/apps`` whenever one of its
instances changes. Each report updates the instances the hub placed on that node (matched by deployment,
node and replica: a node can only speak of its own instances, of its own tenant), and the deployment's status
follows from all of its instances:

- every instance ``running``: the deployment is ``running``;
- every instance ``failed`` or in a ``crashloop``: ``failed``, with the first one's reason;
- some of them so, or ``restarting``: ``degraded``, with that instance's reason;
- otherwise (fetching, installing, starting): ``deploying``.

Every process that serves the API receives every report (one subscription, not a shared one), and only the
leader (:mod:`hub.leader`), where the deployer runs, applies it: under one lock (:attr:`InstanceReports.lock`,
shared with the deployer), so the read-modify-write of a deployment's instances cannot interleave, not even
with several API processes. A report that reaches no leader (during a failover) is dropped; the node reports
again at its next change. A report of an instance at another version than its entry names is of one the
node is replacing (a rollout, a rollback) and changes nothing. A report about a deployment that is gone or
stopped changes nothing: the node hears of that on its deployments topic.

Each change of an instance's status is recorded as an event (:func:`instance_event`), and so is a deployment
becoming ``degraded`` or ``failed``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from contracts.apps import InstanceReport, NodeAppsReport
from contracts.events import EventKind
from hub.broker.base import DeviceIdentity
from hub.clock import now_ms
from hub.events.service import Events
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.store.apps import AppStore, DeploymentRecord, DeploymentStatus, StaleStatus, Transition

log = logging.getLogger(__name__)
#: A report of 256 instances with their services fits easily.
MAX_REPORT_BYTES = 256 * 1024
#: Instances that do not run: failed (fetch or install), or crashing again and again.
_DOWN = ("failed", "crashloop")
#: Deployments whose status follows their instances (a stopped one is on its way out).
FOLLOWS_INSTANCES = (
    DeploymentStatus.DEPLOYING,
    DeploymentStatus.RUNNING,
    DeploymentStatus.DEGRADED,
    DeploymentStatus.FAILED,
)


class InstanceReports:
    """Applies nodes' instance reports to the deployments they run."""

    def __init__(
        self, store: AppStore, metrics: Metrics, events: Events, *, leading: Callable[[], bool] = lambda: True
    ) -> None:
        """``leading``: whether this process leads now (reports are applied there only)."""
        self._leading = leading
        self._store = store
        self._metrics = metrics
        self._events = events
        self._lock = asyncio.Lock()
        self._log = RateLimitedLog(log)

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a report changes instances; the deployer takes it for its changes (placement, rollouts)."""
        return self._lock

    async def reported(self, identity: DeviceIdentity, payload: bytes) -> None:
        """Apply one report of ``identity``'s node; a malformed one is counted, logged and dropped."""
        reason = "too large" if len(payload) > MAX_REPORT_BYTES else None
        if reason is None:
            try:
                report = NodeAppsReport.model_validate_json(payload)
            except ValidationError:
                reason = "not a valid report"
        if reason is not None:
            self._metrics.app_reports_refused.inc()
            self._log.warning(
                f"apps:{identity.device_id}", "refused an app report of %s: %s", identity.device_id, reason
            )
            return
        if not self._leading():
            return
        async with self._lock:
            for instance in report.instances:
                await self._apply(identity, instance)

    async def _apply(self, identity: DeviceIdentity, report: InstanceReport) -> None:
        deployment = await self._store.get_deployment(report.deployment, identity.tenant)
        if deployment is None or deployment.status not in FOLLOWS_INSTANCES:
            return
        entries: list[dict[str, Any]] = json.loads(deployment.instances)
        entry = next(
            (e for e in entries if e["node"] == identity.device_id and e.get("replica", 0) == report.replica), None
        )
        if entry is None:  # an instance the hub no longer places there; the node's desired set says so
            return
        version = str(entry.get("version") or deployment.version)
        if report.version != version:  # the instance being replaced by one at the entry's version
            return
        update = {
            "status": report.status,
            "reason": report.reason,
            "since": report.since,
            "services": {name: s.model_dump(exclude_none=True) for name, s in report.services.items()},
        }
        if all(entry.get(key) == value for key, value in update.items()):
            return
        before = entry.get("status")
        entry.update(update)
        ts = now_ms()
        await self._store.set_instances(deployment.id, json.dumps(entries), ts)
        kind = instance_event(before, report.status)
        if kind is not None:
            said = report.reason or report.status
            self._events.record(
                kind,
                deployment.tenant,
                message=f"{deployment.app} {version} on {identity.device_id}: {said}",
                deployment=deployment.id,
                node=identity.device_id,
                data=_details(report),
            )
        await self._follow(deployment, entries, ts)

    async def _follow(self, deployment: DeploymentRecord, entries: list[dict[str, Any]], ts: int) -> None:
        status, reason = summarise(entries)
        if status is deployment.status:
            return
        try:
            await self._store.update_status(deployment.id, Transition(ts, status, reason), expected=deployment.status)
        except StaleStatus:
            return  # stopped or deleted meanwhile: its instances no longer matter
        log.info("deployment %s is %s: %s", deployment.id, status, reason)
        kind = _DEPLOYMENT_EVENTS.get(status)
        if kind is not None:
            self._events.record(
                kind,
                deployment.tenant,
                message=f"{deployment.app} {deployment.version} is {status}: {reason}",
                deployment=deployment.id,
                data={"from": deployment.status.value, "to": status.value},
            )


def summarise(entries: list[dict[str, Any]]) -> tuple[DeploymentStatus, str]:
    """A deployment's status and reason from its instances' statuses (module docstring)."""
    down = [e for e in entries if e.get("status") in _DOWN]
    if down and len(down) == len(entries):
        return DeploymentStatus.FAILED, _said(down[0])
    troubled = down or [e for e in entries if e.get("status") == "restarting"]
    if troubled:
        return DeploymentStatus.DEGRADED, _said(troubled[0])
    running = sum(e.get("status") == "running" for e in entries)
    if entries and running == len(entries):
        return DeploymentStatus.RUNNING, f"{running} instance(s) running"
    return DeploymentStatus.DEPLOYING, f"{running} of {len(entries)} instance(s) running"


def instance_event(before: str | None, now: str) -> EventKind | None:
    """The event of an instance going from status ``before`` to ``now``, if that is one.

    ``restarting`` means it went down and its agent restarts it: crashed; ``running`` again after that, restarted;
    ``running`` otherwise, started.
    """
    if before == now:
        return None
    if now == "running":
        return EventKind.INSTANCE_RESTARTED if before in ("restarting", "crashloop") else EventKind.INSTANCE_STARTED
    return _INSTANCE_EVENTS.get(now)


_INSTANCE_EVENTS = {
    "restarting": EventKind.INSTANCE_CRASHED,
    "crashloop": EventKind.INSTANCE_CRASHLOOP,
    "failed": EventKind.INSTANCE_FAILED,
}
_DEPLOYMENT_EVENTS = {
    DeploymentStatus.DEGRADED: EventKind.DEPLOYMENT_DEGRADED,
    DeploymentStatus.FAILED: EventKind.DEPLOYMENT_FAILED,
}


def _details(report: InstanceReport) -> dict[str, Any]:
    """An instance event's data: its replica, status and, per service, the exit code and restarts."""
    services = {
        name: {"status": s.status, "exit_code": s.exit_code, "restarts": s.restarts}
        for name, s in list(report.services.items())[:8]
    }
    return {"replica": report.replica, "status": report.status, "reason": report.reason[:300], "services": services}


def _said(entry: dict[str, Any]) -> str:
    return f"node {entry['node']}: {entry.get('reason') or entry.get('status')}"[:1000]
