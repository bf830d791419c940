"""The ``container`` runtime: services run as containers through the Docker Engine API (Docker or Podman).

The docker SDK is blocking: every call runs off the event loop. Calls that last as long as a container does
(following its output, waiting for its exit) get a dedicated daemon thread each instead of ``asyncio.to_thread``,
whose small shared pool they would otherwise fill, stalling every other ``to_thread`` of the agent.
Lines and exit codes come back to the loop with ``call_soon_threadsafe``, so log sinks run on the loop as
they do for the other runtimes.

Containers carry the label ``fieldhub.managed=1`` and their instance key, which is how an agent that restarted
finds what an earlier run left behind (:meth:`ContainerRuntime.remove_stale`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import docker
import requests
import urllib3
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.utils import parse_repository_tag

from edge_agent.apps.runtime import Launch, LogSink, RuntimeFailed

_log = logging.getLogger(__name__)

MANAGED_LABEL = "fieldhub.managed"
INSTANCE_LABEL = "fieldhub.instance"
SDK_DIR = "/opt/fieldhub/sdk"
SDK_SOCKET_DIR = "/run/fieldhub"
DATA_DIR = "/data"
#: How long a removed container's log and wait streams may take to end (they end at once on a healthy engine).
THREADS_END_TIMEOUT_S = 5.0
#: Errors that end a stream from the engine: the engine went away, or the client was closed under it.
_STREAM_ERRORS = (DockerException, requests.RequestException, urllib3.exceptions.HTTPError, OSError)


def image_tag(version_key: str) -> str:
    """The tag of the image built for an app version: a valid reference whatever the version says (``+build``)."""
    name = re.sub(r"[^a-z0-9._-]+", "-", version_key.lower())
    name = re.sub(r"[._-]{2,}", "-", name).strip("._-")
    return f"fieldhub-app/{name}:latest"


def container_name(launch: Launch) -> str:
    """One name per instance service, so a restart of the agent finds (and replaces) its container."""
    return f"fieldhub-{launch.key}"


class ContainerRuntime:
    """Runs the services of ``kind = "container"`` on a Docker Engine API endpoint.

    Args:
        docker_host: The endpoint (``unix:///run/podman/podman.sock``, ``tcp://...``); ``None`` takes
            ``$DOCKER_HOST``, else the docker SDK's default socket.
    """

    def __init__(self, docker_host: str | None) -> None:
        self._docker_host = docker_host
        self._client: docker.DockerClient | None = None
        self._connecting = asyncio.Lock()
        #: One lock per image tag: instances of one version starting together build it once.
        self._build_locks: dict[str, asyncio.Lock] = {}

    async def prepare(self, launch: Launch, log: LogSink) -> None:
        """Make the service's image present: pull a named image that is missing, build a Dockerfile once.

        Raises:
            RuntimeFailed: the engine cannot be reached, the image cannot be pulled, or the build fails.
        """
        client = await self._connect()
        spec = launch.service.runtime
        if spec.image is not None:
            await self._pull_if_missing(client, spec.image)
            return
        if spec.dockerfile is None:
            raise RuntimeFailed(f"service {launch.service.name} is not a container service")
        tag = image_tag(launch.version_key)
        lock = self._build_locks.setdefault(tag, asyncio.Lock())
        async with lock:
            if not await _image_exists(client, tag):
                await self._build(client, launch, spec.dockerfile, tag, log)

    async def start(self, launch: Launch, log: LogSink) -> ContainerService:
        """Run the service detached, replacing a container of the same name (left by an earlier agent run).

        Raises:
            RuntimeFailed: the engine refuses to create or start the container (a port taken, a missing image).
        """
        client = await self._connect()
        name = container_name(launch)
        spec = launch.service.runtime
        image = spec.image if spec.image is not None else image_tag(launch.version_key)
        await _remove(client, name)
        # The runtime's paths win over launch.env: the reconciler may have set FIELDHUB_SDK_SOCKET to the host path.
        env = {
            **launch.env,
            "PYTHONPATH": SDK_DIR,
            "FIELDHUB_SDK_SOCKET": f"{SDK_SOCKET_DIR}/{launch.sdk_socket.name}",
        }
        # The socket's directory, not the socket file: a file mount keeps the old inode when the agent restarts
        # and binds a new socket, so kept containers would lose the SDK. The directory must hold nothing else.
        volumes = {
            str(launch.sdk_dir): {"bind": SDK_DIR, "mode": "ro"},
            str(launch.sdk_socket.parent): {"bind": SDK_SOCKET_DIR, "mode": "rw"},
            str(launch.workdir): {"bind": DATA_DIR, "mode": "rw"},
        }
        ports = {} if launch.port is None else {f"{launch.port}/tcp": ("127.0.0.1", launch.port)}
        try:
            container = await asyncio.to_thread(
                client.containers.create,
                image,
                spec.command,
                name=name,
                labels={MANAGED_LABEL: "1", INSTANCE_LABEL: launch.key},
                init=True,  # PID 1 forwards SIGTERM (busybox httpd and many shells ignore it as PID 1)
                environment=env,
                volumes=volumes,
                ports=ports,
            )
        except DockerException as exc:
            raise RuntimeFailed(f"container {name} cannot be created from {image}: {_reason(exc)}") from exc
        try:
            await asyncio.to_thread(container.start)
        except DockerException as exc:
            await _remove(client, name)
            raise RuntimeFailed(f"container {name} does not start: {_reason(exc)}") from exc
        return ContainerService(client, container, log, asyncio.get_running_loop())

    async def remove_stale(self, keep: set[str]) -> list[str]:
        """Remove the managed containers whose instance key is not in ``keep``; return the removed keys.

        After a restart the agent keeps the containers of instances it still runs and clears the rest.
        """
        client = await self._connect()
        try:
            managed = await asyncio.to_thread(client.containers.list, all=True, filters={"label": f"{MANAGED_LABEL}=1"})
        except DockerException as exc:
            raise RuntimeFailed(f"cannot list containers: {_reason(exc)}") from exc
        removed = []
        for container in managed:
            key = container.labels.get(INSTANCE_LABEL, "")
            if key not in keep:
                await _remove(client, str(container.id))
                removed.append(key)
        if removed:
            _log.info("removed %d stale containers: %s", len(removed), ", ".join(removed))
        return removed

    async def close(self) -> None:
        """Close the client; stop the services first (a stream following a container keeps its own connection)."""
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)

    async def _connect(self) -> docker.DockerClient:
        """The client, created on first use so that an agent without container apps never needs an engine."""
        async with self._connecting:
            if self._client is None:
                self._client = await asyncio.to_thread(self._open)
            return self._client

    def _open(self) -> docker.DockerClient:
        where = self._docker_host or os.environ.get("DOCKER_HOST") or "the default socket"
        try:
            # Both negotiate the API version with the engine, so an unreachable one fails here.
            client = docker.DockerClient(base_url=self._docker_host) if self._docker_host else docker.from_env()
        except DockerException as exc:
            reason = str(exc)
        else:
            _log.info("connected to the Docker Engine API at %s (API %s)", where, client.api.api_version)
            return client
        # Raised without the SDK's exception: its traceback holds the socket of the failed connect, which the SDK
        # never closes (docker 7.2, transport/unixconn.py); chained, it would stay open as long as this error.
        raise RuntimeFailed(f"cannot reach the Docker Engine API at {where}: {reason}")

    async def _pull_if_missing(self, client: docker.DockerClient, image: str) -> None:
        if await _image_exists(client, image):
            return
        repository, tag = parse_repository_tag(image)

        def pull() -> None:
            # The SDK's images.pull ignores errors reported inside the stream; the low-level one shows them.
            chunks: Iterable[dict[str, Any]] = client.api.pull(repository, tag or "latest", stream=True, decode=True)
            for chunk in chunks:
                if "error" in chunk:
                    raise RuntimeFailed(f"image {image} cannot be pulled: {str(chunk['error']).strip()}")

        started = asyncio.get_running_loop().time()
        try:
            await asyncio.to_thread(pull)
        except _STREAM_ERRORS as exc:
            raise RuntimeFailed(f"image {image} cannot be pulled: {_reason(exc)}") from exc
        _log.info("pulled %s in %.1f s", image, asyncio.get_running_loop().time() - started)

    async def _build(
        self, client: docker.DockerClient, launch: Launch, dockerfile: str, tag: str, log: LogSink
    ) -> None:
        loop = asyncio.get_running_loop()

        def build() -> None:
            chunks: Iterable[dict[str, Any]] = client.api.build(
                path=str(launch.source), dockerfile=dockerfile, tag=tag, rm=True, forcerm=True, decode=True
            )
            for chunk in chunks:
                if "error" in chunk:
                    lines = str(chunk["error"]).strip().splitlines() or ["(no reason given)"]
                    raise RuntimeFailed(f"image {tag} did not build from {dockerfile}: {lines[-1]}")
                for line in str(chunk.get("stream", "")).splitlines():
                    if line.strip():
                        loop.call_soon_threadsafe(log, "stdout", line)

        started = loop.time()
        try:
            await asyncio.to_thread(build)
        except _STREAM_ERRORS as exc:
            raise RuntimeFailed(f"image {tag} did not build from {dockerfile}: {_reason(exc)}") from exc
        _log.info("built %s in %.1f s", tag, loop.time() - started)


class ContainerService:
    """A started container: its output follows into the log sink until it ends."""

    def __init__(
        self, client: docker.DockerClient, container: Container, log: LogSink, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._client = client
        self._container = container
        self._loop = loop
        self._exit: asyncio.Future[int] = loop.create_future()
        self._threads_ended: list[asyncio.Future[None]] = []
        self._stopped = False
        for stream in ("stdout", "stderr"):
            self._thread(f"logs-{stream}", self._follow, stream, log)
        self._thread("wait", self._wait_exit)

    @property
    def ident(self) -> str:
        """The short container id."""
        return str(self._container.short_id)

    async def wait(self) -> int:
        """The container's exit code once it ended.

        Raises:
            RuntimeFailed: the engine could not say how the container ended (it went away meanwhile).
        """
        return await asyncio.shield(self._exit)

    async def stop(self, grace_s: float) -> None:
        """SIGTERM, SIGKILL after ``grace_s`` (whole seconds, rounded up), then remove the container.

        Returns once the container's last lines reached the log sink and its threads gave their connections back,
        so that closing the runtime right after leaves nothing open.
        """
        if self._stopped:
            return
        self._stopped = True
        try:
            await asyncio.to_thread(self._container.stop, timeout=math.ceil(grace_s))
        except NotFound:
            pass  # removed by someone else
        except DockerException as exc:
            _log.warning("container %s did not stop (%s); removing it by force", self.ident, _reason(exc))
        await _remove(self._client, str(self._container.id))
        _, pending = await asyncio.wait(self._threads_ended, timeout=THREADS_END_TIMEOUT_S)
        if pending:
            _log.warning("container %s removed, but %d of its streams did not end", self.ident, len(pending))

    def _thread(self, purpose: str, target: Callable[..., None], *args: Any) -> None:
        ended: asyncio.Future[None] = self._loop.create_future()
        self._threads_ended.append(ended)

        def run() -> None:
            try:
                target(*args)
            finally:
                self._settle(ended, lambda: ended.set_result(None))

        threading.Thread(target=run, name=f"container-{self.ident}-{purpose}", daemon=True).start()

    def _follow(self, stream: str, log: LogSink) -> None:
        try:
            chunks: Iterator[bytes] = self._container.logs(
                stdout=stream == "stdout", stderr=stream == "stderr", stream=True, follow=True
            )
            for line in _lines(chunks):
                self._loop.call_soon_threadsafe(log, stream, line)
        except _STREAM_ERRORS as exc:
            _log.debug("%s of container %s no longer followed: %s", stream, self.ident, exc)
        except RuntimeError:
            pass  # the event loop closed: nobody is left to read the lines

    def _wait_exit(self) -> None:
        try:
            code = int(self._container.wait()["StatusCode"])
        except _STREAM_ERRORS as exc:
            failure = RuntimeFailed(f"lost track of container {self.ident}: {_reason(exc)}")
            self._settle(self._exit, lambda: self._exit.set_exception(failure))
        else:
            self._settle(self._exit, lambda: self._exit.set_result(code))

    def _settle(self, future: asyncio.Future[Any], settle: Callable[[], None]) -> None:
        """Run ``settle`` on the loop, unless ``future`` is already done (cancelled by a closing loop)."""

        def once() -> None:
            if not future.done():
                settle()

        with contextlib.suppress(RuntimeError):  # the event loop closed: nobody waits any more
            self._loop.call_soon_threadsafe(once)


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Whole lines from the chunks of a log stream (a chunk may hold several lines, or part of one)."""
    pending = b""
    for chunk in chunks:
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            yield line.decode(errors="replace").rstrip("\r")
    if pending:
        yield pending.decode(errors="replace")


async def _image_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        await asyncio.to_thread(client.images.get, name)
    except ImageNotFound:
        return False
    except DockerException as exc:
        raise RuntimeFailed(f"cannot look up image {name}: {_reason(exc)}") from exc
    return True


async def _remove(client: docker.DockerClient, name_or_id: str) -> None:
    """Remove a container, running or not; one already gone is fine."""
    try:
        await asyncio.to_thread(client.api.remove_container, name_or_id, force=True)
    except NotFound:
        pass
    except DockerException as exc:
        raise RuntimeFailed(f"cannot remove container {name_or_id}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """The engine's own words when it gave some (``APIError.explanation``), else the exception's."""
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()
