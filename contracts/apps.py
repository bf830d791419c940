"""The app contract: the manifest ``fieldhub-app.toml`` every app carries at its root.

An app is a directory, zipped for upload, that runs on the node hosting the sensors it binds. The
manifest says what runs (one or more services, each a Python command in the app's own virtual
environment or a container), which sensors and actuators it needs (matched against what nodes report
in their heartbeats), where it may be placed, and whether it serves HTTP behind the hub's link.
``GET /api/v1/contracts/app-manifest`` serves its JSON Schema; docs/apps.md walks through it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.devices import LabelKey, LabelValue

MANIFEST = "fieldhub-app.toml"

#: 1 to 63 characters of [a-z0-9-], starting and ending with a letter or digit (a DNS label).
AppName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
#: Semantic Versioning 2.0.0, without a leading "v".
SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
Version = Annotated[str, StringConstraints(pattern=SEMVER_PATTERN, max_length=64)]
#: The name an app uses for a bound sensor, actuator, service, input or output.
BindName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")]
#: Variables the node sets for every service; an app may not set them itself.
RESERVED_ENV = re.compile(r"^(PORT|PATH|PYTHONPATH|VIRTUAL_ENV|FIELDHUB_.*)$")
DEFAULT_SERVICE = "main"
MAX_SERVICES = 16


def _inside_package(path: str) -> str:
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or "\x00" in path or ".." in parts or not all(parts):
        raise ValueError("must be a relative path inside the package (forward slashes, no '..')")
    return path


#: A path inside the package: relative, forward slashes, no ".." (the zip is checked again on upload).
PackagePath = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_inside_package)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppInfo(_Strict):
    """``[app]``: who the app is."""

    name: AppName = Field(description="Unique per tenant; part of the app's link")
    version: Version = Field(description="Semantic version; a pushed version is immutable")
    description: str = Field(default="", max_length=500)


class Runtime(_Strict):
    """``[runtime]``: what a service runs."""

    kind: Literal["python", "container"] = "python"
    command: list[Annotated[str, StringConstraints(min_length=1, max_length=1024)]] | None = Field(
        default=None, min_length=1, max_length=64, description="python: run in the app's own virtual environment"
    )
    requirements: PackagePath | None = Field(default=None, description="python: a requirements file in the package")
    image: str | None = Field(default=None, max_length=255, description="container: an image name:tag to run")
    dockerfile: PackagePath | None = Field(default=None, description="container: a Dockerfile in the package")

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        if self.kind == "python":
            if not self.command:
                raise ValueError("a python runtime needs a command, e.g. command = ['python', 'main.py']")
            if self.image is not None or self.dockerfile is not None:
                raise ValueError("image and dockerfile belong to a container runtime")
        else:
            if (self.image is None) == (self.dockerfile is None):
                raise ValueError("a container runtime needs exactly one of image or dockerfile")
            if self.requirements is not None:
                raise ValueError("requirements belong to a python runtime")
        return self


class Http(_Strict):
    """``[http]``: the service serves HTTP on ``$PORT`` and gets the link ``/apps/{tenant}/{app}/``."""

    health: str = Field(default="/healthz", pattern=r"^/[\x21-\x7e]{0,255}$")
    public: bool = Field(default=False, description="true: the link needs no login")


class Binding(_Strict):
    """A ``[[sensors]]`` or ``[[actuators]]`` entry: what a node must host, and the name the app uses for it."""

    bind: BindName
    type: str = Field(min_length=1, max_length=64, description="Matched against the type nodes report")
    count: int = Field(default=1, ge=1, le=64)
    location: str | None = Field(default=None, min_length=1, max_length=128)
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=32)


class Placement(_Strict):
    """``[placement]``: how many instances, and on which nodes beyond those hosting the bindings."""

    replicas: int = Field(default=1, ge=1, le=64)
    node_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=32)


class Scale(_Strict):
    """``[scale]``: replicas follow the instances' CPU (their nodes' heartbeats), between ``min`` and ``max``."""

    min: int = Field(ge=1, le=64, description="Fewest replicas")
    max: int = Field(ge=1, le=64, description="Most replicas")
    cpu_percent: int = Field(
        ge=1, le=1000, description="Target average CPU per instance, in percent of one core (200: two cores)"
    )
    cooldown_s: int = Field(default=60, ge=1, le=3600, description="Seconds between two changes of the replicas")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.min:
            raise ValueError(f"[scale] max ({self.max}) must be at least min ({self.min})")
        return self


class Service(_Strict):
    """One ``[[services]]`` entry: a process of the app with its own runtime and, optionally, HTTP."""

    name: BindName
    runtime: Runtime
    http: Http | None = None
    default: bool = Field(default=False, description="The service the app's link reaches")
    inputs: list[BindName] = Field(default_factory=list, max_length=16)
    outputs: list[BindName] = Field(default_factory=list, max_length=16)


class Wire(_Strict):
    """A ``[[wires]]`` entry: the node routes a service's output to another's input, locally."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from", pattern=r"^[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,31}$")
    target: str = Field(alias="to", pattern=r"^[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,31}$")


class AppManifest(_Strict):
    """The whole ``fieldhub-app.toml``.

    The top-level ``[runtime]`` and ``[http]`` describe the default service (named ``main``); an app
    with several processes lists them as ``[[services]]`` instead, one of them ``default = true``.
    """

    app: AppInfo
    runtime: Runtime | None = None
    http: Http | None = None
    services: list[Service] = Field(default_factory=list, max_length=MAX_SERVICES)
    wires: list[Wire] = Field(default_factory=list, max_length=64)
    sensors: list[Binding] = Field(default_factory=list, max_length=64)
    actuators: list[Binding] = Field(default_factory=list, max_length=64)
    placement: Placement = Placement()
    scale: Scale | None = Field(default=None, description="Autoscaling; without it the replicas stay as deployed")
    env: dict[EnvName, Annotated[str, StringConstraints(max_length=4096)]] = Field(default_factory=dict, max_length=64)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.services and (self.runtime is not None or self.http is not None):
            raise ValueError("use either [runtime]/[http] for one service or [[services]], not both")
        if not self.services and self.runtime is None:
            raise ValueError("the manifest needs a [runtime] (or [[services]])")
        services = self.all_services()
        names = [s.name for s in services]
        if len(set(names)) != len(names):
            raise ValueError("service names must be unique")
        if sum(s.default for s in services) != 1:
            raise ValueError("exactly one service must have default = true")
        binds = [b.bind for b in [*self.sensors, *self.actuators]]
        if len(set(binds)) != len(binds):
            raise ValueError("sensor and actuator bind names must be unique")
        reserved = sorted(key for key in self.env if RESERVED_ENV.match(key))
        if reserved:
            raise ValueError(f"env may not set {', '.join(reserved)}: the node sets them")
        ends = {s.name: (set(s.outputs), set(s.inputs)) for s in services}
        for wire in self.wires:
            source, output = wire.source.split(".")
            target, input_ = wire.target.split(".")
            if output not in ends.get(source, (set(), set()))[0]:
                raise ValueError(f"wire from {wire.source}: no service {source!r} with output {output!r}")
            if input_ not in ends.get(target, (set(), set()))[1]:
                raise ValueError(f"wire to {wire.target}: no service {target!r} with input {input_!r}")
        return self

    def all_services(self) -> list[Service]:
        """Every service, the one-service form included (as ``main``, the default)."""
        if self.services:
            return list(self.services)
        assert self.runtime is not None
        return [Service(name=DEFAULT_SERVICE, runtime=self.runtime, http=self.http, default=True)]

    def default_service(self) -> Service:
        return next(s for s in self.all_services() if s.default)


class DesiredInstance(BaseModel):
    """One instance a node should run: which deployment, which package (verify ``digest``), and how."""

    deployment: str
    replica: int = Field(default=0, ge=0, description="0, 1, ... when one node runs several of a deployment")
    app: str
    version: str
    digest: str = Field(description="sha256 of the package (hex); the node refuses a package that differs")
    package_url: str = Field(description="Where to fetch the package: a path on the hub's URL, authenticated")
    services: list[Service] = Field(description="The app's services, the one-service form as ``main``")
    wires: list[Wire] = Field(default_factory=list, description="Outputs routed to inputs on the node")
    env: dict[str, str] = Field(default_factory=dict)
    sensors: dict[str, list[str]] = Field(
        default_factory=dict, description="Each sensor bind name and the node's sensors the hub matched to it"
    )
    actuators: dict[str, list[str]] = Field(
        default_factory=dict, description="Each actuator bind name and the node's actuators matched to it"
    )

    @property
    def key(self) -> str:
        """The instance's name on its node, unique there: ``{deployment}-{replica}``."""
        return f"{self.deployment}-{self.replica}"


class NodeDeployments(BaseModel):
    """What the hub publishes retained on ``devices/{id}/deployments``: every instance the node should run.

    The node runs exactly these and removes the rest. ``version`` grows with each publication (epoch ms of the
    change), so a node can ignore a set older than the one it has.
    """

    version: int = Field(ge=0)
    instances: list[DesiredInstance] = Field(default_factory=list)


#: ``restarting``: a service exited or failed its health checks and starts again after a backoff;
#: ``crashloop``: it did so ``crash_loop_after`` times in a row (still restarted, at the longest backoff).
InstancePhase = Literal["fetching", "installing", "starting", "running", "restarting", "crashloop", "failed", "stopped"]


class ServiceReport(BaseModel):
    """One service of an instance as its node runs it."""

    model_config = ConfigDict(extra="ignore")

    status: InstancePhase
    pid: int | None = Field(default=None, description="Process id (python) on the node")
    container: str | None = Field(default=None, max_length=128, description="Container id (container runtime)")
    exit_code: int | None = None
    restarts: int = Field(default=0, ge=0)


class InstanceReport(BaseModel):
    """How one desired instance fares on its node, and why when it is not running."""

    model_config = ConfigDict(extra="ignore")

    deployment: str = Field(max_length=64)
    replica: int = Field(default=0, ge=0)
    app: str = Field(max_length=63)
    version: str = Field(max_length=64)
    status: InstancePhase
    reason: str = Field(default="", max_length=1000)
    since: int = Field(ge=0, description="Epoch ms of the last status change")
    services: dict[str, ServiceReport] = Field(default_factory=dict, max_length=MAX_SERVICES)


class NodeAppsReport(BaseModel):
    """What a node publishes on ``devices/{id}/apps`` whenever an instance changes: all its instances.

    ``version`` is the desired set (:class:`NodeDeployments`) the node works towards; an instance the node
    removed is reported once more as ``stopped`` and then left out.
    """

    model_config = ConfigDict(extra="ignore")

    version: int = Field(ge=0)
    ts: int = Field(ge=0)
    instances: list[InstanceReport] = Field(default_factory=list, max_length=256)
