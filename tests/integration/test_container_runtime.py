"""The container runtime against a real Docker Engine API (podman system service) and images built here."""

from __future__ import annotations

import asyncio
import gc
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path

import docker
import httpx
import pytest
from docker.errors import NotFound

from contracts.apps import Runtime, Service
from edge_agent.apps.container import ContainerRuntime, ContainerService, image_tag
from edge_agent.apps.runtime import Launch, RuntimeFailed
from tests.helpers.podman import BASE_IMAGE, PodmanService
from tests.helpers.ports import free_port
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(90)


class Sink:
    """A log sink that keeps the lines it receives."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, stream: str, line: str) -> None:
        self.lines.append((stream, line))

    async def line(self, stream: str, text: str) -> None:
        async def seen() -> bool:
            return (stream, text) in self.lines

        await eventually(seen, within=20, what=f"{stream} line {text!r} (got {self.lines})")


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    with PodmanService(tmp_path_factory.mktemp("podman")) as service:
        yield service


@pytest.fixture(scope="module")
def engine(podman: PodmanService) -> Iterator[docker.DockerClient]:
    """A client of the engine, to look behind the runtime's back."""
    with closing(podman.client()) as client:
        yield client


@pytest.fixture
async def runtime(podman: PodmanService) -> AsyncIterator[ContainerRuntime]:
    runtime = ContainerRuntime(podman.url)
    yield runtime
    await runtime.close()


@pytest.fixture
def sdk_socket(tmp_path: Path) -> Iterator[Path]:
    """A listening Unix socket standing in for the agent's SDK socket, alone in its directory."""
    path = tmp_path / "sdk-socket" / "sdk.sock"
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen()
        yield path


@pytest.fixture
def launch(tmp_path: Path, sdk_socket: Path) -> LaunchFactory:
    return LaunchFactory(tmp_path, sdk_socket)


class LaunchFactory:
    """Builds launches the way the reconciler would: each with its own instance key, all of one package."""

    def __init__(self, tmp_path: Path, sdk_socket: Path) -> None:
        self.tmp_path = tmp_path
        self.sdk_socket = sdk_socket
        self.sdk_dir = tmp_path / "sdk"
        (self.sdk_dir / "fieldhub_sdk").mkdir(parents=True)
        (self.sdk_dir / "fieldhub_sdk" / "__init__.py").write_text("VERSION = 'test'\n")
        self.source = tmp_path / "package"
        self.source.mkdir()
        self.digest = uuid.uuid4().hex[:12]

    def __call__(
        self,
        *,
        image: str | None = None,
        dockerfile: str | None = None,
        command: list[str] | None = None,
        port: int | None = None,
        version: str = "1.0.0",
    ) -> Launch:
        key = f"demo{uuid.uuid4().hex[:8]}-0-main"
        workdir = self.tmp_path / "instances" / key
        workdir.mkdir(parents=True)
        env = {"FIELDHUB_INSTANCE": key} if port is None else {"FIELDHUB_INSTANCE": key, "PORT": str(port)}
        spec = Runtime(kind="container", image=image, dockerfile=dockerfile, command=command)
        return Launch(
            key=key,
            version_key=f"demo-{version}-{self.digest}",
            service=Service(name="main", runtime=spec, default=True),
            source=self.source,
            workdir=workdir,
            env=env,
            port=port,
            sdk_dir=self.sdk_dir,
            sdk_socket=self.sdk_socket,
        )


async def _started(runtime: ContainerRuntime, launch: Launch, sink: Sink) -> ContainerService:
    await runtime.prepare(launch, sink)
    return await runtime.start(launch, sink)


async def test_an_image_service_answers_http_on_loopback_only(
    runtime: ContainerRuntime, engine: docker.DockerClient, launch: LaunchFactory
) -> None:
    port = free_port()
    service = launch(
        image=BASE_IMAGE,
        command=["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p $PORT -h /www"],
        port=port,
    )
    running = await _started(runtime, service, Sink())
    try:
        async with httpx.AsyncClient() as http:

            async def answers() -> str:
                try:
                    return (await http.get(f"http://127.0.0.1:{port}/")).text
                except httpx.TransportError:
                    return ""

            assert await eventually(answers, within=20, what="httpd in the container") == "hello\n"
        container = engine.containers.get(f"fieldhub-{service.key}")
        assert container.short_id == running.ident
        assert container.labels == {"fieldhub.managed": "1", "fieldhub.instance": service.key}
        assert container.attrs["HostConfig"]["PortBindings"] == {
            f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
        }
    finally:
        await running.stop(5)


async def test_the_service_sees_its_port_the_sdk_and_its_data_dir(
    runtime: ContainerRuntime, launch: LaunchFactory
) -> None:
    script = (
        'echo "port=$PORT socket=$FIELDHUB_SDK_SOCKET path=$PYTHONPATH"; '
        'test -S "$FIELDHUB_SDK_SOCKET" && echo socket-present; '
        "cat /opt/fieldhub/sdk/fieldhub_sdk/__init__.py; "
        "touch /opt/fieldhub/sdk/written 2>/dev/null || echo sdk-read-only; "
        "echo kept > /data/state.txt"
    )
    port = free_port()
    service = launch(image=BASE_IMAGE, command=["sh", "-c", script], port=port)
    sink = Sink()
    running = await _started(runtime, service, sink)
    try:
        assert await running.wait() == 0
        await sink.line("stdout", f"port={port} socket=/run/fieldhub/sdk.sock path=/opt/fieldhub/sdk")
        await sink.line("stdout", "socket-present")
        await sink.line("stdout", "VERSION = 'test'")
        await sink.line("stdout", "sdk-read-only")
        assert (service.workdir / "state.txt").read_text() == "kept\n"
    finally:
        await running.stop(1)


async def test_a_dockerfile_service_builds_once_runs_and_logs_both_streams(
    runtime: ContainerRuntime, engine: docker.DockerClient, launch: LaunchFactory
) -> None:
    service = launch(dockerfile="deploy/Dockerfile", version="2.0.0+build.7")
    (service.source / "msg.txt").write_text("hello from the package\n")
    (service.source / "deploy").mkdir()
    (service.source / "deploy" / "Dockerfile").write_text(
        f'FROM {BASE_IMAGE}\nCOPY msg.txt /msg.txt\nCMD ["sh", "-c", "cat /msg.txt; echo to-stderr >&2"]\n'
    )
    build_log = Sink()
    await runtime.prepare(service, build_log)
    assert any(line.startswith("STEP 2/3: COPY") for _, line in build_log.lines), build_log.lines
    built = engine.images.get(image_tag(service.version_key))

    again = Sink()
    await runtime.prepare(service, again)
    assert again.lines == []
    assert engine.images.get(image_tag(service.version_key)).id == built.id

    sink = Sink()
    running = await runtime.start(service, sink)
    try:
        assert await running.wait() == 0
        await sink.line("stdout", "hello from the package")
        await sink.line("stderr", "to-stderr")
        assert ("stdout", "to-stderr") not in sink.lines
    finally:
        await running.stop(1)


async def test_instances_of_one_version_preparing_together_build_it_once(
    runtime: ContainerRuntime, launch: LaunchFactory
) -> None:
    first = launch(dockerfile="Dockerfile", version="3.0.0")
    (first.source / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nRUN echo building > /built\n")
    second = launch(dockerfile="Dockerfile", version="3.0.0")
    sinks = [Sink(), Sink()]
    await asyncio.gather(runtime.prepare(first, sinks[0]), runtime.prepare(second, sinks[1]))
    steps = [line for sink in sinks for _, line in sink.lines if line.startswith("STEP 1/2")]
    assert len(steps) == 1


async def test_a_failing_dockerfile_says_which_step_failed(runtime: ContainerRuntime, launch: LaunchFactory) -> None:
    service = launch(dockerfile="Dockerfile", version="4.0.0")
    (service.source / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nRUN echo about to fail && false\n")
    sink = Sink()
    with pytest.raises(RuntimeFailed, match=r"did not build from Dockerfile: .*RUN echo about to fail && false"):
        await runtime.prepare(service, sink)
    assert ("stdout", "about to fail") in sink.lines


async def test_an_image_that_cannot_be_pulled_is_named(runtime: ContainerRuntime, launch: LaunchFactory) -> None:
    # .invalid never resolves: the pull fails fast, here and on a machine with Internet access.
    service = launch(image="registry.invalid/fieldhub/missing:1.0")
    with pytest.raises(RuntimeFailed, match=r"image registry\.invalid/fieldhub/missing:1\.0 cannot be pulled: .+"):
        await runtime.prepare(service, Sink())


async def test_wait_returns_the_exit_code(runtime: ContainerRuntime, launch: LaunchFactory) -> None:
    running = await _started(runtime, launch(image=BASE_IMAGE, command=["sh", "-c", "exit 3"]), Sink())
    try:
        assert await running.wait() == 3
    finally:
        await running.stop(1)


async def test_stop_removes_the_container_and_can_be_repeated(
    runtime: ContainerRuntime, engine: docker.DockerClient, launch: LaunchFactory
) -> None:
    service = launch(image=BASE_IMAGE, command=["sleep", "600"])
    running = await _started(runtime, service, Sink())
    await running.stop(5)
    assert await running.wait() == 143  # SIGTERM reached sleep through the init process
    with pytest.raises(NotFound):
        engine.containers.get(f"fieldhub-{service.key}")
    await running.stop(5)


async def test_start_replaces_a_container_of_the_same_name(
    runtime: ContainerRuntime, engine: docker.DockerClient, launch: LaunchFactory
) -> None:
    service = launch(image=BASE_IMAGE, command=["sleep", "600"])
    first = await _started(runtime, service, Sink())
    second = await runtime.start(service, Sink())
    try:
        assert second.ident != first.ident
        assert engine.containers.get(f"fieldhub-{service.key}").short_id == second.ident
    finally:
        await first.stop(1)  # already gone: only the second one is left to stop
        await second.stop(1)


async def test_remove_stale_removes_only_managed_containers_not_kept(
    podman: PodmanService, runtime: ContainerRuntime, engine: docker.DockerClient, launch: LaunchFactory
) -> None:
    kept, stale = launch(image=BASE_IMAGE, command=["sleep", "600"]), launch(image=BASE_IMAGE, command=["sleep", "600"])
    running = [await _started(runtime, service, Sink()) for service in (kept, stale)]
    unmanaged = engine.containers.run(
        BASE_IMAGE, ["sleep", "600"], detach=True, name=f"unmanaged-{uuid.uuid4().hex[:8]}", init=True
    )
    try:
        restarted = ContainerRuntime(podman.url)  # as after an agent restart
        try:
            removed = await restarted.remove_stale({kept.key})
        finally:
            await restarted.close()
        assert stale.key in removed and kept.key not in removed
        with pytest.raises(NotFound):
            engine.containers.get(f"fieldhub-{stale.key}")
        assert engine.containers.get(f"fieldhub-{kept.key}").status == "running"
        assert engine.containers.get(str(unmanaged.id)).status == "running"
    finally:
        unmanaged.remove(force=True)
        for each in running:
            await each.stop(1)


# docker 7.2 leaves the socket of a failed connect to the garbage collector (transport/unixconn.py).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_an_unreachable_engine_is_a_clear_failure(tmp_path: Path, launch: LaunchFactory) -> None:
    runtime = ContainerRuntime(f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(
        RuntimeFailed, match=rf"cannot reach the Docker Engine API at unix://{tmp_path}/no-engine\.sock: "
    ):
        await runtime.prepare(launch(image=BASE_IMAGE), Sink())
    await runtime.close()
    gc.collect()  # while the filter above applies
