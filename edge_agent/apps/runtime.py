"""What the reconciler asks of a runtime: prepare a service (once per app version) and run it.

A runtime kind (``python``, ``container``) turns a service of an unpacked package into a running process on
the node. Preparation is cached per app version (a virtual environment, an image) and may take long (pip,
an image build); starting is quick. The reconciler owns restarts, status and removal: a runtime only starts,
waits and stops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from contracts.apps import Service
from contracts.errors import ErrorCode, FieldhubError

#: Receives each line a service writes: ``(stream, line)`` with stream ``"stdout"`` or ``"stderr"``.
LogSink = Callable[[str, str], None]


class RuntimeFailed(FieldhubError):
    """Preparing or starting a service failed; ``message`` says why, for the instance's report."""

    code = ErrorCode.INVALID_REQUEST


@dataclass(frozen=True, slots=True)
class Launch:
    """One service of one instance, as the reconciler hands it to a runtime.

    Attributes:
        key: The service's name on the node, unique there (``{deployment}-{replica}-{service}``); a container
            runtime names its container after it.
        version_key: Same for every instance of one app version (``{app}-{version}-{digest[:12]}``): the
            cache key of what :meth:`Runtime.prepare` builds.
        service: The service as the manifest declares it.
        source: The unpacked package (shared by the instances of the version: never written to).
        workdir: A directory of this instance alone, kept across restarts.
        env: Variables to set on top of the runtime's own: PORT, FIELDHUB_*, the manifest's env.
        port: The port on 127.0.0.1 the service serves HTTP on (``None`` without ``[http]``).
        sdk_dir: The directory holding ``fieldhub_sdk``, made importable to the service.
        sdk_socket: The agent's SDK socket, reachable from the service at the path in ``FIELDHUB_SDK_SOCKET``.
    """

    key: str
    version_key: str
    service: Service
    source: Path
    workdir: Path
    env: Mapping[str, str]
    port: int | None
    sdk_dir: Path
    sdk_socket: Path


class Running(Protocol):
    """A started service."""

    @property
    def ident(self) -> str:
        """Process id or container id, for reports and logs."""

    async def wait(self) -> int:
        """Return the exit code once the service ended."""

    async def stop(self, grace_s: float) -> None:
        """Ask the service to end, kill it after ``grace_s``, and release what it held. Idempotent."""


class Runtime(Protocol):
    """One runtime kind."""

    async def prepare(self, launch: Launch, log: LogSink) -> None:
        """Make ``launch.version_key`` ready to start (cached: quick when already done).

        Raises:
            RuntimeFailed: with the reason (a requirement that does not install, an image that does not build).
        """

    async def start(self, launch: Launch, log: LogSink) -> Running:
        """Start the service; its output goes to ``log`` line by line.

        Raises:
            RuntimeFailed: the service cannot start.
        """

    async def close(self) -> None:
        """Release the runtime's own resources (a client connection); running services are stopped first."""
