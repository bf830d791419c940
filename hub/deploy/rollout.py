"""Rollouts: a deployment moved to another version of its app instance by instance, and back if one fails.

:meth:`Rollouts.start` (``PATCH /api/v1/deployments/{id}``) points the deployment at the new version and
upgrades one instance; the nodes run each instance at its own version meanwhile, so old and new coexist.
:meth:`Rollouts.tick` (every second, in the hub process that runs the sweeps) moves each rollout on:

- the instance on trial is ``running`` and has stayed so for the grace period (hub time, from the first tick that
  saw it running): it is proven, the next instance still at the old version is upgraded; none left, the rollout
  is done (timeline ``rolled out x.y.z``);
- the instance on trial is ``failed``, ``crashloop`` or ``restarting``, or a service of it restarted, before it is
  proven: every instance goes back to the previous version, and so does the deployment (timeline ``rolled back to
  a.b.c: <the node's reason>``, event ``deployment.rolled_back``);
- otherwise (fetching, installing, starting) it waits. An instance on a node that dies is moved off by failover;
  the rollout then goes on with the next one.

Where the state lives: each entry of the deployment's ``instances`` carries the ``version`` it runs (absent: the
deployment's ``version``, as for records stored before rollouts), and the rollout itself is the ``rollout`` object
of the deployment's ``placement`` document (``{"from", "to", "grace_s", "started", "trial": {"node", "replica"},
"healthy_from"}``). The placement is an object that is rewritten only when a pending or scheduled deployment is
placed, which a rollout (of an active deployment only) never overlaps; ``instances`` stays the list it was. The
deployment's status follows its instances throughout (:func:`hub.deploy.instances.summarise`); each step is a
timeline entry with that status.

A rollout keeps the sensor assignment placement chose: the new version runs on the same nodes. Deleting the
previous version while a rollout is under way makes a rollback impossible: the rollout is then abandoned and
the timeline says so.

Every change happens under the deployer's lock, which instance reports share (:class:`hub.deploy.instances.
InstanceReports`), so a report cannot write back instances read before a step.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from contracts.events import EventKind
from hub.clock import now_ms
from hub.deploy.instances import FOLLOWS_INSTANCES, summarise
from hub.errors import Conflict, NotFound
from hub.events.service import Events
from hub.store.apps import AppStore, AppVersionRecord, DeploymentQuery, DeploymentRecord, StaleStatus, Transition

log = logging.getLogger(__name__)
#: Seconds between two looks at the rollouts under way.
TICK_S = 1.0
#: Seconds an upgraded instance must run before the next one is upgraded, unless the request says otherwise.
DEFAULT_GRACE_S = 30
#: Instance statuses that fail the trial.
_FAILING = ("failed", "crashloop", "restarting")

Publish = Callable[[str, Iterable[str]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Rollout:
    """A rollout under way: from ``source`` to ``target``; ``trial`` is the instance (node, replica) being
    proven, running without a fault since ``healthy_from`` (epoch ms, hub time; ``None``: not running yet)."""

    source: str
    target: str
    grace_s: int
    started: int
    trial: tuple[str, int] | None = None
    healthy_from: int | None = None

    @classmethod
    def of(cls, placement: str) -> Rollout | None:
        """The rollout kept in a deployment's placement document, if one is under way."""
        doc = json.loads(placement).get("rollout")
        if not doc:
            return None
        trial = doc.get("trial")
        return cls(
            source=doc["from"],
            target=doc["to"],
            grace_s=int(doc["grace_s"]),
            started=int(doc["started"]),
            trial=(str(trial["node"]), int(trial["replica"])) if trial else None,
            healthy_from=doc.get("healthy_from"),
        )

    def doc(self) -> dict[str, Any]:
        trial = None if self.trial is None else {"node": self.trial[0], "replica": self.trial[1]}
        return {
            "from": self.source,
            "to": self.target,
            "grace_s": self.grace_s,
            "started": self.started,
            "trial": trial,
            "healthy_from": self.healthy_from,
        }


@dataclass(frozen=True, slots=True)
class Step:
    """What a rollout does next: ``wait`` (keep ``rollout``, maybe with a new ``healthy_from``), upgrade the
    ``next`` instance (``rollout.trial``), be ``done``, or ``rollback`` because of ``reason``."""

    action: Literal["wait", "next", "done", "rollback"]
    rollout: Rollout
    reason: str = ""


def entry_version(entry: dict[str, Any], deployment_version: str) -> str:
    """The version an instance entry runs (entries stored before rollouts: the deployment's)."""
    return str(entry.get("version") or deployment_version)


def step(rollout: Rollout, entries: list[dict[str, Any]], now: int) -> Step:
    """Decide a rollout's next step from its instances (entries carry their ``version``; see the module)."""
    # An entry without a version runs the deployment's, the target during a rollout (failover's new entries).
    at_target = [entry_version(e, rollout.target) == rollout.target for e in entries]
    trial = next(
        (
            e
            for e, done in zip(entries, at_target, strict=True)
            if done and rollout.trial == (e["node"], e.get("replica", 0))
        ),
        None,
    )
    if trial is not None:
        restarted = any(s.get("restarts", 0) for s in trial.get("services", {}).values())
        if trial.get("status") in _FAILING or restarted:
            reason = trial.get("reason") or trial.get("status") or "restarted"
            return Step("rollback", rollout, reason=f"node {trial['node']}: {reason}"[:1000])
        if trial.get("status") != "running":
            return Step("wait", replace(rollout, healthy_from=None))
        healthy_from = rollout.healthy_from if rollout.healthy_from is not None else now
        if now - healthy_from < rollout.grace_s * 1000:
            return Step("wait", replace(rollout, healthy_from=healthy_from))
    # Proven, or gone (its node died and failover moved it): on to the next instance at another version.
    index = next((i for i, done in enumerate(at_target) if not done), None)
    if index is None:
        return Step("done", rollout)
    entry = entries[index]
    return Step("next", replace(rollout, trial=(str(entry["node"]), int(entry.get("replica", 0))), healthy_from=None))


def upgrade(entry: dict[str, Any], version: str, reason: str) -> None:
    """Point one instance entry at ``version``: it is ``deploying`` until its node reports the new instance."""
    for key in ("since", "services"):
        entry.pop(key, None)
    entry.update(version=version, status="deploying", reason=reason)


class Rollouts:
    """Starts rollouts and moves them on (module docstring); built by :class:`hub.deploy.deployments.Deployments`."""

    def __init__(self, store: AppStore, publish: Publish, lock: asyncio.Lock, events: Events | None) -> None:
        self._store = store
        self._publish = publish
        self._lock = lock
        self._events = events

    async def start(self, deployment: DeploymentRecord, record: AppVersionRecord, grace_s: int) -> DeploymentRecord:
        """Roll ``deployment`` out to ``record``'s version (the caller holds the lock and checked the version).

        Raises:
            Conflict: the deployment is not active, already runs that version, or a rollout is under way.
        """
        if deployment.status not in FOLLOWS_INSTANCES:
            raise Conflict(
                f"deployment {deployment.id!r} is {deployment.status}: only an active deployment (deploying, running, "
                "degraded, failed) can be updated; a scheduled one takes the new version by being deployed again"
            )
        underway = Rollout.of(deployment.placement)
        if underway is not None:
            raise Conflict(
                f"deployment {deployment.id!r} is rolling out {underway.target} (from {underway.source}): "
                "wait until it is rolled out or rolled back"
            )
        if record.version == deployment.version:
            raise Conflict(f"deployment {deployment.id!r} runs {deployment.app} {record.version} already")
        entries: list[dict[str, Any]] = json.loads(deployment.instances)
        for entry in entries:
            entry["version"] = entry_version(entry, deployment.version)
        ts = now_ms()
        rollout = Rollout(deployment.version, record.version, grace_s, ts)
        await self._save_rollout(deployment, rollout, ts)
        await self._store.set_version(deployment.id, record.version, ts)
        said = f"rolling out {record.version} (from {deployment.version})"
        current = await self._status(deployment, entries, said, ts)
        current = await self._advance(current, step(rollout, entries, ts), entries, ts)
        log.info("deployment %s: %s", deployment.id, said)
        return current

    async def run(self, interval_s: float = TICK_S) -> None:
        """:meth:`tick` every ``interval_s`` until cancelled; a failed tick is logged and the next one runs."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.tick()
            except Exception:  # the store may be away for a moment; the next tick tries again
                log.exception("moving rollouts on failed")

    async def tick(self) -> None:
        """Move every rollout under way one step on, if it can."""
        for found in await self._store.list_deployments(DeploymentQuery(statuses=FOLLOWS_INSTANCES)):
            if Rollout.of(found.placement) is None:
                continue
            async with self._lock:
                deployment = await self._store.get_deployment(found.id)  # again, under the lock
                rollout = None if deployment is None else Rollout.of(deployment.placement)
                if deployment is None or rollout is None or deployment.status not in FOLLOWS_INSTANCES:
                    continue
                entries: list[dict[str, Any]] = json.loads(deployment.instances)
                ts = now_ms()
                try:
                    await self._advance(deployment, step(rollout, entries, ts), entries, ts)
                except StaleStatus:
                    continue  # stopped or deleted meanwhile (another hub process)

    async def _advance(
        self, deployment: DeploymentRecord, decided: Step, entries: list[dict[str, Any]], ts: int
    ) -> DeploymentRecord:
        rollout = decided.rollout
        if decided.action == "wait":
            if rollout != Rollout.of(deployment.placement):
                await self._save_rollout(deployment, rollout, ts)
            return deployment
        if decided.action == "rollback":
            return await self._roll_back(deployment, rollout, entries, decided.reason, ts)
        if decided.action == "done":
            await self._save_rollout(deployment, None, ts)
            log.info("deployment %s rolled out %s", deployment.id, rollout.target)
            return await self._status(deployment, entries, f"rolled out {rollout.target}", ts)
        assert rollout.trial is not None  # step() names the instance it upgrades next
        node, replica = rollout.trial
        entry = next(e for e in entries if (e["node"], e.get("replica", 0)) == (node, replica))
        upgrade(entry, rollout.target, f"updating to {rollout.target}")
        done = sum(entry_version(e, rollout.target) == rollout.target for e in entries)
        await self._save_rollout(deployment, rollout, ts)
        await self._store.set_instances(deployment.id, json.dumps(entries), ts)
        said = f"updating node {node} replica {replica} to {rollout.target} ({done} of {len(entries)})"
        current = await self._status(deployment, entries, said, ts)
        await self._publish(deployment.tenant, [node])
        return current

    async def _roll_back(
        self, deployment: DeploymentRecord, rollout: Rollout, entries: list[dict[str, Any]], reason: str, ts: int
    ) -> DeploymentRecord:
        try:
            await self._store.set_version(deployment.id, rollout.source, ts)
        except NotFound:
            await self._save_rollout(deployment, None, ts)
            said = f"cannot roll back to {rollout.source} (the version was deleted): {reason}"
            log.warning("deployment %s: %s", deployment.id, said)
            return await self._status(deployment, entries, said, ts)
        touched = set()
        for entry in entries:
            if entry.get("version") != rollout.source:
                upgrade(entry, rollout.source, f"rolling back to {rollout.source}")
                touched.add(str(entry["node"]))
        await self._store.set_instances(deployment.id, json.dumps(entries), ts)
        await self._save_rollout(deployment, None, ts)
        said = f"rolled back to {rollout.source}: {reason}"
        current = await self._status(deployment, entries, said, ts)
        await self._publish(deployment.tenant, touched)
        log.warning("deployment %s %s", deployment.id, said)
        if self._events is not None:
            self._events.record(
                EventKind.DEPLOYMENT_ROLLED_BACK,
                deployment.tenant,
                message=f"{deployment.app} {said} (from {rollout.target})",
                deployment=deployment.id,
                node=rollout.trial[0] if rollout.trial else None,
                data={"from": rollout.target, "to": rollout.source, "reason": reason[:300]},
            )
        return current

    async def _save_rollout(self, deployment: DeploymentRecord, rollout: Rollout | None, ts: int) -> None:
        placement: dict[str, Any] = json.loads(deployment.placement)
        if rollout is None:
            placement.pop("rollout", None)
        else:
            placement["rollout"] = rollout.doc()
        await self._store.set_placement(deployment.id, json.dumps(placement), ts)

    async def _status(
        self, deployment: DeploymentRecord, entries: list[dict[str, Any]], reason: str, ts: int
    ) -> DeploymentRecord:
        """A timeline entry saying ``reason``, with the status the instances make."""
        status, _ = summarise(entries)
        change = Transition(ts, status, reason)
        return await self._store.update_status(deployment.id, change, expected=deployment.status)
