"""The apps' store: pushed app versions, the deployments that run them, and each deployment's timeline.

An app version is immutable once pushed: the package itself lives in the blob store under its digest, the
store keeps what the API and the scheduler need to know about it (the manifest as JSON text, digest, size).
A version or an app cannot be deleted while a deployment refers to it; a deployment keeps blocking until it is
deleted (stopping it is not enough: the agents may still fetch its package).

A deployment's status changes only through :meth:`AppStore.update_status`, which appends a
:class:`Transition` to its timeline in the same atomic step and can be made conditional on the status the
caller last saw (``expected``). Hub processes on one store (the API, the scheduler, the deployer of another
replica) read a deployment, decide, and write: the condition turns a write based on a stale read into
:class:`StaleStatus` instead of a lost update, and the caller reads again and decides again. Placement,
instances and schedule are JSON text the store keeps as given (their shape belongs to the scheduler and the
deployer, not to the store).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from hub.errors import Conflict


class DeploymentStatus(StrEnum):
    """Where a deployment is in its life (issue 14 adds scheduled, degraded and completed runs)."""

    PENDING = "pending"  # waiting for a qualifying node
    SCHEDULED = "scheduled"  # waiting for its schedule's next start
    DEPLOYING = "deploying"  # placed, instances not all running yet
    RUNNING = "running"
    DEGRADED = "degraded"  # running with fewer instances than wanted (e.g. a node died, none to move to)
    STOPPED = "stopped"
    COMPLETED = "completed"  # a schedule's window ended
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AppVersionRecord:
    """One pushed version of an app: its package's sha256 ``digest`` and ``size``, its manifest as JSON text,
    and who pushed it when (epoch ms)."""

    tenant: str
    name: str
    version: str
    digest: str
    size: int
    manifest: str
    created: int
    created_by: str


@dataclass(frozen=True, slots=True)
class AppRecord:
    """An app of a tenant with its versions, the highest by semantic-version precedence first."""

    tenant: str
    name: str
    versions: tuple[AppVersionRecord, ...]


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a deployment's status, and why (epoch ms)."""

    ts: int
    status: DeploymentStatus
    reason: str


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """A deployment of one app version. ``placement`` (candidates and reason), ``instances`` (a list of
    ``{"node", "status", ...}``) and ``schedule`` (``None``: now) are JSON text; ``timeline`` lists every
    status change, oldest first, and is filled in by the store."""

    id: str
    tenant: str
    app: str
    version: str
    replicas: int
    status: DeploymentStatus
    created: int
    updated: int
    placement: str = "{}"
    instances: str = "[]"
    schedule: str | None = None
    timeline: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True)
class DeploymentQuery:
    """Filters of a deployment listing; ``None`` or empty means no filter."""

    tenant: str | None = None
    app: str | None = None
    statuses: tuple[DeploymentStatus, ...] = ()


class StaleStatus(Conflict):
    """A conditional status change found the deployment in another status than the caller expected."""

    def __init__(self, deployment_id: str, expected: DeploymentStatus, current: DeploymentStatus) -> None:
        super().__init__(f"deployment {deployment_id!r} is {current}, not {expected}: read it again")
        self.deployment_id = deployment_id
        self.expected = expected
        self.current = current


def new_deployment_id() -> str:
    """A fresh deployment id: ``dep-`` and 12 hex digits."""
    return f"dep-{secrets.token_hex(6)}"


_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
#: One pre-release identifier: numeric ones rank below alphanumeric ones, numbers compare as numbers.
_Ident = tuple[int, int, str]
VersionKey = tuple[int, int, int, int, tuple[_Ident, ...]]


def version_key(version: str) -> VersionKey:
    """Sort key of Semantic Versioning 2.0.0 precedence: a release ranks above its pre-releases, pre-release
    identifiers compare one by one (a shorter list ranks lower when equal so far), build metadata is ignored.
    A string that is not a semantic version ranks below every one that is."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1, -1, -1, 0, ((1, 0, version),))
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    idents = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split("."))
    return (int(major), int(minor), int(patch), 0, idents)


def newest_first(versions: list[AppVersionRecord]) -> tuple[AppVersionRecord, ...]:
    """Versions by precedence, highest first; equal precedence (builds of one version) by push time, newest first."""
    return tuple(sorted(versions, key=lambda v: (version_key(v.version), v.created, v.version), reverse=True))


class AppStore(Protocol):
    """App versions and deployments. Implementations are async and safe to share between tasks and processes.

    Every read that the API serves to a tenant takes that tenant (``None`` is for the platform: the scheduler,
    the deployer, platform admins); a deployment of another tenant is as good as absent.
    """

    async def add_version(self, version: AppVersionRecord) -> None:
        """Record a pushed version; :class:`hub.errors.Conflict` if tenant, name and version exist."""

    async def get_version(self, tenant: str, name: str, version: str) -> AppVersionRecord | None:
        """One version, or ``None``."""

    async def get_app(self, tenant: str, name: str) -> AppRecord | None:
        """One app with its versions (highest first), or ``None`` if it has none."""

    async def list_apps(self, tenant: str | None) -> list[AppRecord]:
        """Apps of one tenant, or of all tenants with ``None``, by tenant and name; versions highest first."""

    async def delete_version(self, tenant: str, name: str, version: str) -> bool:
        """Remove a version; ``False`` if there was none. :class:`hub.errors.Conflict` while a deployment
        refers to it (checked in the same atomic step as the delete)."""

    async def delete_app(self, tenant: str, name: str) -> bool:
        """Remove every version of an app; ``False`` if there was none. :class:`hub.errors.Conflict` while a
        deployment refers to any of them."""

    async def create_deployment(self, deployment: DeploymentRecord, reason: str) -> DeploymentRecord:
        """Insert a deployment (its ``timeline`` is ignored) and its first transition ``(created, status,
        reason)``; return it as stored. :class:`hub.errors.NotFound` if its app version does not exist,
        :class:`hub.errors.Conflict` if the id is taken."""

    async def get_deployment(self, deployment_id: str, tenant: str | None = None) -> DeploymentRecord | None:
        """One deployment with its timeline, or ``None`` (also when it belongs to another tenant than
        ``tenant``)."""

    async def list_deployments(self, query: DeploymentQuery) -> list[DeploymentRecord]:
        """Deployments matching ``query`` with their timelines, oldest first."""

    async def update_status(
        self, deployment_id: str, change: Transition, *, expected: DeploymentStatus | None = None
    ) -> DeploymentRecord:
        """Set the status to ``change.status`` and append ``change`` to the timeline, in one atomic step; return
        the deployment as now stored (``updated`` is ``change.ts``). With ``expected``, only if the status is
        still ``expected``, else :class:`StaleStatus` and nothing changes. :class:`hub.errors.NotFound` if there
        is no such deployment. Every call appends, even when the status stays the same (a new reason)."""

    async def set_placement(self, deployment_id: str, placement: str, ts: int) -> bool:
        """Replace the placement (JSON text) and set ``updated``; ``False`` if there is no such deployment."""

    async def set_instances(self, deployment_id: str, instances: str, ts: int) -> bool:
        """Replace the instances (JSON text) and set ``updated``; ``False`` if there is no such deployment."""

    async def set_replicas(self, deployment_id: str, replicas: int, ts: int) -> bool:
        """Set how many instances the deployment wants (autoscaling) and ``updated``; ``False`` if there is no
        such deployment."""

    async def set_version(self, deployment_id: str, version: str, ts: int) -> bool:
        """Point the deployment at another version of its app (a rollout, a rollback) and set ``updated``;
        ``False`` if there is no such deployment, :class:`hub.errors.NotFound` if the version does not exist."""

    async def delete_deployment(self, deployment_id: str, tenant: str | None = None) -> bool:
        """Remove a deployment and its timeline; ``False`` if there was none (of ``tenant``, if given)."""
