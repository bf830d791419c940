"""The agent's TOML config: validated as a whole before anything starts.

Errors name the file, the key (``sensors[1] 'wave'.interval``) and what is expected; driver
options are checked by the drivers themselves, still before anything opens.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from contracts.errors import ErrorCode, FieldhubError
from contracts.ids import Identifier
from device_drivers.base import DriverConfigError
from device_drivers.registry import create_driver
from device_drivers.sensor import SensorSpec


class ConfigError(FieldhubError):
    """A config the agent refuses; ``message`` says where and what."""

    code = ErrorCode.INVALID_REQUEST


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HubSection(_Section):
    """Where and as whom the agent connects."""

    url: str = "mqtt://127.0.0.1:1883"
    device_id: Identifier
    secret: SecretStr
    ca_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    api_url: str | None = Field(
        default=None, description="The hub's HTTP URL: app packages are fetched and app links tunnelled through it"
    )

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must look like http://host:port or https://host:port")
        return url.rstrip("/")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://host:port or mqtts://host:port")
        return url

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


class SpoolSection(_Section):
    """The on-disk buffer."""

    path: Path = Path("/var/lib/fieldhub/spool.db")
    max_mb: float = Field(default=512, gt=0)


class UplinkSection(_Section):
    """How readings are batched into MQTT messages."""

    batch_max: int = Field(default=500, ge=1, le=1000)
    batch_max_kb: int = Field(default=128, ge=1, le=250)
    batch_delay_s: float = Field(default=0.2, ge=0, le=60)
    max_inflight: int = Field(default=20, ge=1, le=1000)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)


class HeartbeatSection(_Section):
    interval_s: float = Field(default=5.0, ge=0.5, le=3600)


class LogsSection(_Section):
    """The agent's own log lines shipped to the hub."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    ship: bool = True
    max_per_minute: int = Field(default=120, ge=1)


class AppsSection(_Section):
    """Apps the hub places on this node: where they live and how they run."""

    dir: Path = Path("/var/lib/fieldhub/apps")
    #: Ports on 127.0.0.1 handed to services that serve HTTP (``$PORT``).
    ports: tuple[int, int] = (20000, 20999)
    #: The Python that creates the apps' virtual environments (``python -m venv``).
    python: str = "python3"
    #: Docker Engine API endpoint for container apps; unset: ``$DOCKER_HOST``, else the default socket.
    docker_host: str | None = None
    stop_grace_s: float = Field(default=10.0, ge=0, le=300)
    #: How long a service with ``[http]`` may take, once started, to answer its health check.
    health_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    #: While it runs: a health check this often; this many failed in a row make it unhealthy (restarted).
    health_interval_s: float = Field(default=5.0, gt=0, le=3600)
    unhealthy_after: int = Field(default=3, ge=1, le=100)
    #: Restarts wait ``restart_min_s``, doubling up to ``restart_max_s``; a service up ``stable_after_s``
    #: starts afresh; ``crash_loop_after`` failures in a row are reported as a crash loop.
    restart_min_s: float = Field(default=1.0, gt=0, le=3600)
    restart_max_s: float = Field(default=60.0, gt=0, le=86400)
    stable_after_s: float = Field(default=60.0, gt=0, le=86400)
    crash_loop_after: int = Field(default=5, ge=1, le=1000)
    #: Extra arguments for ``pip install`` of apps' requirements (e.g. ``["--index-url", "..."]``).
    pip_args: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("ports")
    @classmethod
    def _ports(cls, ports: tuple[int, int]) -> tuple[int, int]:
        low, high = ports
        if not 1024 <= low <= high <= 65535:
            raise ValueError("must be [low, high] with 1024 <= low <= high <= 65535")
        return ports


class AgentConfig(_Section):
    """The whole ``agent.toml``."""

    hub: HubSection
    spool: SpoolSection = SpoolSection()
    uplink: UplinkSection = UplinkSection()
    heartbeat: HeartbeatSection = HeartbeatSection()
    logs: LogsSection = LogsSection()
    apps: AppsSection = AppsSection()
    sensors: Annotated[list[SensorSpec], Field(max_length=256)] = []

    @model_validator(mode="after")
    def _unique_names(self) -> AgentConfig:
        seen: set[str] = set()
        for sensor in self.sensors:
            if sensor.name in seen:
                raise ValueError(f"sensor name {sensor.name!r} is used twice")
            seen.add(sensor.name)
        return self


def _where(loc: tuple[int | str, ...], raw: dict[str, Any]) -> str:
    """``sensors[1] 'wave'.interval`` for a pydantic error location."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
            if loc[i - 1] == "sensors":
                sensors = raw.get("sensors")
                if isinstance(sensors, list) and part < len(sensors) and isinstance(sensors[part], dict):
                    name = sensors[part].get("name")
                    if isinstance(name, str):
                        parts[-1] += f" {name!r}"
        else:
            parts.append(str(part))
    return ".".join(parts) or "config"


def parse_config(raw: dict[str, Any], source: str) -> AgentConfig:
    """Validate a config document; ``source`` names it in errors."""
    try:
        config = AgentConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{source}: invalid agent config:"]
        lines += [f"  {_where(tuple(e['loc']), raw)}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    problems = []
    for i, sensor in enumerate(config.sensors):
        try:
            create_driver(sensor.driver, sensor.options)
        except DriverConfigError as err:
            problems.append(f"  sensors[{i}] {sensor.name!r}.options: {err.message}")
    if problems:
        raise ConfigError("\n".join([f"{source}: invalid agent config:", *problems]))
    return config


def load_config(path: Path) -> AgentConfig:
    """Read and validate ``path``.

    Raises:
        ConfigError: naming the file, the line (TOML syntax) or key (values) and what is expected.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read agent config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"agent config {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, str(path))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (the file holds the device secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    # The mode of an existing file is kept by open(); make sure it is private too.
    path.chmod(0o600)
