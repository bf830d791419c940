"""The production stack (compose/): a valid Compose file, settings the hub knows, no secret in the repository."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from cloud.settings import HubSettings, ProcessSettings, ReplicaSettings
from hub.broker.mosquitto.dynsec import SERVICE_ROLE
from tests.helpers.servers import require
from tests.unit.test_doc_links import broken_links

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
COMPOSE_FILE = COMPOSE / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE / ".env.example"
DOCKERFILE = COMPOSE / "Dockerfile"
SEED = COMPOSE / "mosquitto" / "seed_dynsec.py"

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|CONNECTION_STRING", re.IGNORECASE)
#: Placeholders .env.example may give a secret: nothing, or a word that says what to do.
_PLACEHOLDERS = {"", "CHANGE-ME"}
#: An exact version: 1.2.3, optionally followed by a variant (-slim-bookworm, -alpine).
_EXACT_TAG = re.compile(r"^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$")


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose -f compose/docker-compose.yml --env-file ENV_FILE ARGS``, offline, in a clean environment.

    Variables of the caller's environment would take precedence over the file's: only PATH and HOME are passed.
    """
    tool = require("docker-compose", "make test-servers installs it (Debian package docker-compose)")
    return subprocess.run(
        [tool, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def compose_config(env_file: Path) -> dict[str, Any]:
    """The Compose file as docker-compose resolves it with ``env_file`` (interpolated, anchors merged, all profiles)."""
    done = run_compose(env_file, "--profile", "local", "config")
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = yaml.safe_load(done.stdout)
    return loaded


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    """The stack as .env.example configures it."""
    return compose_config(ENV_EXAMPLE)


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """``(source, target)`` of each of a resolved service's volumes (a named volume, or a bind's absolute path)."""
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.append((volume["source"], volume["target"]))
        else:
            source, target, *_ = volume.split(":")
            found.append((source, target))
    return found


def env_example() -> dict[str, str]:
    """The ``NAME=value`` lines of .env.example (comments left out)."""
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            pairs[name.strip()] = value.strip()
    return pairs


def image_env() -> dict[str, str]:
    """The ``ENV NAME=value ...`` settings of the Dockerfile's final stage, which every process of the image gets."""
    final_stage = DOCKERFILE.read_text().rsplit("\nFROM ", 1)[1].replace("\\\n", " ")
    pairs = {}
    for line in final_stage.splitlines():
        if line.startswith("ENV "):
            for word in line.split()[1:]:
                name, sep, value = word.partition("=")
                assert sep, f"Dockerfile: ENV {word!r} is not NAME=value"
                pairs[name] = value
    return pairs


def settings_class(service: dict[str, Any]) -> type[ProcessSettings]:
    """The settings a service's process reads: a replica's (``serve --role ingest``, and mosquitto-init's seed, which
    loads them), else the hub's (``serve --role api``)."""
    command = service.get("command") or []
    return ReplicaSettings if "ingest" in command or service.get("entrypoint") else HubSettings


def knows(settings: type[BaseModel], env_name: str) -> bool:
    """Whether ``settings`` reads ``env_name``: ``FIELDHUB_<FIELD>``, nested with ``__``, or an alias of its sources."""
    aliases: set[str] = set()
    for source in getattr(settings, "env_sources", ()):
        aliases |= set(getattr(source, "NAMES", {}))
    if env_name in aliases:
        return True
    if not env_name.startswith("FIELDHUB_"):
        return False
    model: type[BaseModel] | None = settings
    for part in env_name.removeprefix("FIELDHUB_").lower().split("__"):
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return False
        annotation = field.annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model is None  # a section itself is no value


def strings(node: object) -> Iterator[str]:
    """Every string in a loaded YAML document, keys and values (what Compose interpolates)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def hub_environments(config: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, str]]]:
    for name, service in config["services"].items():
        environment = service.get("environment") or {}
        if any(key.startswith("FIELDHUB_") for key in environment):
            yield name, service, environment


def test_the_compose_file_is_valid_with_the_example_env() -> None:
    done = run_compose(ENV_EXAMPLE, "config", "-q")
    assert done.returncode == 0, done.stderr


def test_the_compose_file_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.write_text("\n".join(f"{k}={v}" for k, v in env_example().items() if k != "MONGO_ROOT_PASSWORD"))
    done = run_compose(env, "config", "-q")
    assert done.returncode != 0
    assert "MONGO_ROOT_PASSWORD" in done.stderr


def test_the_stack_has_every_part_with_health_checks_restarts_and_volumes(example: dict[str, Any]) -> None:
    config = example
    services = config["services"]
    images = {service["image"].partition(":")[0] for service in services.values()}
    assert {"eclipse-mosquitto", "mongo", "apache/kafka", "caddy", "mcr.microsoft.com/azure-storage/azurite"} <= images
    roles = Counter(tuple(service.get("command", [])) for service in services.values())
    assert roles[("serve", "--role", "api")] >= 2
    assert roles[("serve", "--role", "ingest")] >= 1
    assert services["azurite"]["profiles"] == ["local"]
    for name, service in services.items():
        if service.get("restart") == "no":  # a one-shot step before a start
            continue
        assert service.get("restart") == "unless-stopped", name
        # The hub's image carries its own healthcheck (compose/Dockerfile).
        assert "healthcheck" in service or "build" in service, name
        for source, target in mounts(service):
            # Data in named volumes; bind mounts only for configuration and certificates from compose/.
            assert source in config["volumes"] or Path(source).is_relative_to(COMPOSE), f"{name}: {source}:{target}"
    stateful = {"mongo": "/data/db", "kafka": "/var/lib/kafka/data", "mosquitto": "/mosquitto/data", "caddy": "/data"}
    for name, target in stateful.items():
        assert any(t == target and s in config["volumes"] for s, t in mounts(services[name])), name


def test_every_hub_setting_the_stack_gives_is_one_the_hub_knows(example: dict[str, Any]) -> None:
    config = example
    checked = 0
    for name, service, environment in hub_environments(config):
        settings = settings_class(service)
        unknown = [key for key in environment if key.startswith("FIELDHUB_") and not knows(settings, key)]
        assert unknown == [], f"{name} ({settings.__name__}) does not read {unknown}"
        checked += len(environment)
    assert checked > 20
    unknown = [key for key in env_example() if key.startswith("FIELDHUB_") and not knows(HubSettings, key)]
    assert unknown == []
    from_image = [key for key in image_env() if key.startswith("FIELDHUB_")]
    assert "FIELDHUB_PROBE_PORT" in from_image  # the image's healthcheck reads it
    assert [key for key in from_image if not knows(ProcessSettings, key)] == []


def test_the_name_check_refuses_what_the_hub_does_not_read() -> None:
    assert knows(HubSettings, "FIELDHUB_MOSQUITTO__PASSWORD")
    assert knows(HubSettings, "FIELDHUB_AZURE_STORAGE_CONNECTION_STRING")
    assert not knows(HubSettings, "FIELDHUB_MOSQUITTO__PASSWD")
    assert not knows(HubSettings, "FIELDHUB_MOSQUITTO")
    assert not knows(ReplicaSettings, "FIELDHUB_ADMIN_PASSWORD")
    assert not knows(HubSettings, "MONGO_ROOT_PASSWORD")


def test_the_hub_accepts_every_process_environment_of_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example's placeholders, replaced the way .env.example says, must make settings every process starts with.
    env = tmp_path / "env"
    env.write_text(
        "\n".join(f"{name}={'x' * 40 if value == 'CHANGE-ME' else value}" for name, value in env_example().items())
    )
    for name, service, environment in hub_environments(compose_config(env)):
        for key in [key for key in os.environ if key.startswith("FIELDHUB_")]:
            monkeypatch.delenv(key)
        for key, value in {**image_env(), **environment}.items():
            monkeypatch.setenv(key, str(value))
        settings = settings_class(service)()
        assert settings.external_broker, name
        assert settings.probe_port is not None, name  # what the image's healthcheck asks
        if "FIELDHUB_STORE" in environment:
            assert settings.store_url.startswith("mongodb://"), name


def test_every_variable_the_compose_file_reads_is_in_the_example() -> None:
    used = {
        name for value in strings(yaml.safe_load(COMPOSE_FILE.read_text())) for name in _INTERPOLATION.findall(value)
    }
    assert {"MONGO_ROOT_PASSWORD", "FIELDHUB_SECRET_KEY"} <= used
    assert sorted(used - set(env_example())) == []


def test_no_secret_is_written_in_the_compose_file() -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    sections = [*raw["services"].values(), *(v for k, v in raw.items() if k.startswith("x-") and isinstance(v, dict))]
    environments: list[dict[str, Any]] = [s.get("environment", s) for s in sections]
    literal = [
        f"{key}={value}"
        for environment in environments
        for key, value in environment.items()
        if isinstance(value, str) and _SECRET_NAME.search(key) and not _INTERPOLATION.search(value)
    ]
    assert literal == []
    # The store URL carries the account only through variables.
    store = raw["x-store-env"]["FIELDHUB_STORE"]
    assert re.fullmatch(r"mongodb://\$\{[^}]+\}:\$\{[^}]+\}@[^$]+", store), store


def test_the_example_env_holds_placeholders_only() -> None:
    secrets = {name: value for name, value in env_example().items() if _SECRET_NAME.search(name)}
    assert "FIELDHUB_ADMIN_PASSWORD" in secrets
    assert {name: value for name, value in secrets.items() if value not in _PLACEHOLDERS} == {}
    assert "/.env" in (COMPOSE / ".gitignore").read_text().splitlines()


def _random_looking(token: str) -> bool:
    """Long, mixed letters and digits, and as varied as generated keys are: a secret pasted in, not a word."""
    if len(token) < 24 or not (re.search(r"\d", token) and re.search(r"[a-z]", token) and re.search(r"[A-Z]", token)):
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy > 4.0


def test_the_secret_finder_tells_keys_from_words() -> None:
    assert _random_looking(base64.b64encode(hashlib.sha256(b"fieldhub").digest()).decode())
    assert not _random_looking("mosquitto_dynamic_security")
    assert not _random_looking("MONGO_INITDB_ROOT_PASSWORD")


def test_no_file_of_compose_holds_a_random_looking_secret() -> None:
    # A deployment's own .env and certificates (compose/.gitignore) are not the repository's.
    local = {COMPOSE / ".env", COMPOSE / "certs"}
    files = [
        path
        for path in COMPOSE.rglob("*")
        if path.is_file()
        and path != ENV_EXAMPLE
        and not any(path.is_relative_to(p) for p in local)
        and "__pycache__" not in path.parts
    ]
    assert DOCKERFILE in files
    found = [
        f"{path.relative_to(ROOT)}: {token[:6]}..."
        for path in files
        for token in re.findall(r"[A-Za-z0-9+/=_-]{24,}", path.read_text())
        if _random_looking(token)
    ]
    assert found == []


def test_the_dockerfile_runs_as_a_user_and_pins_its_base_images() -> None:
    text = DOCKERFILE.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users, "no USER line"
    final_user = users[-1].partition(":")[0]
    assert final_user not in ("root", "0")
    stages: set[str] = set()
    for image, stage in re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE | re.IGNORECASE):
        if image not in stages:
            _, _, tag = image.partition(":")
            assert _EXACT_TAG.match(tag.partition("@")[0]), f"FROM {image}: pin an exact version"
        if stage:
            stages.add(stage)
    # The last stage is what runs, and its USER comes after it.
    assert text.rfind("\nUSER ") > text.rfind("\nFROM ")


def test_the_stack_pins_every_image(example: dict[str, Any]) -> None:
    for name, service in example["services"].items():
        _, _, tag = service["image"].rpartition(":")
        assert _EXACT_TAG.match(tag), f"{name}: {service['image']}: pin an exact version"


def test_mosquitto_reads_the_file_its_init_writes(example: dict[str, Any]) -> None:
    config = example
    services = config["services"]

    def in_volume(service: dict[str, Any], path: str) -> tuple[str, Path]:
        for source, target in mounts(service):
            if source in config["volumes"] and Path(path).is_relative_to(target):
                return source, Path(path).relative_to(target)
        raise AssertionError(f"{path} is in no volume")

    written = in_volume(services["mosquitto-init"], services["mosquitto-init"]["entrypoint"][-1])
    (conf,) = (Path(s) for s, t in mounts(services["mosquitto"]) if t == "/etc/mosquitto/mosquitto.conf")
    lines = [line.split(maxsplit=1) for line in conf.read_text().splitlines() if line and not line.startswith("#")]
    options = dict(lines)
    assert in_volume(services["mosquitto"], options["plugin_opt_config_file"]) == written
    assert services["mosquitto"]["command"][-1] == "/etc/mosquitto/mosquitto.conf"
    # What docs/operations.md asks of an external Mosquitto.
    assert options["allow_anonymous"] == "false"
    assert options["max_inflight_messages"] == "1000"
    assert int(options["max_queued_messages"]) >= 100_000


def _seed(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FIELDHUB_")}
    return subprocess.run(
        [sys.executable, str(SEED), str(path)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_mosquitto_seed_writes_the_hub_account_once(tmp_path: Path) -> None:
    target = tmp_path / "dynamic-security.json"
    account = {
        "FIELDHUB_BROKER": "mqtt://mosquitto:1883",
        "FIELDHUB_MOSQUITTO__USERNAME": "hub-account",
        "FIELDHUB_MOSQUITTO__PASSWORD": "p" * 40,
    }
    done = _seed(target, **account)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    document = json.loads(target.read_text())
    (client,) = document["clients"]
    assert client["username"] == "hub-account"
    assert [role["rolename"] for role in client["roles"]] == [SERVICE_ROLE]
    assert "p" * 40 not in target.read_text()  # a hash, never the password
    # The plugin keeps the file from then on: a second run changes nothing.
    target.write_text('{"kept": true}')
    again = _seed(target, **{**account, "FIELDHUB_MOSQUITTO__USERNAME": "someone-else"})
    assert again.returncode == 0, again.stderr
    assert json.loads(target.read_text()) == {"kept": True}


def test_the_mosquitto_seed_refuses_settings_without_a_password(tmp_path: Path) -> None:
    target = tmp_path / "dynamic-security.json"
    done = _seed(target, FIELDHUB_BROKER="mqtt://mosquitto:1883")
    assert done.returncode == 2
    assert "mosquitto.password" in done.stderr
    assert not target.exists()


def test_the_compose_readme_links_resolve() -> None:
    assert broken_links(COMPOSE / "README.md") == []
