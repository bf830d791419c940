"""The app manifest contract (contracts/apps.py): the issue's example, the one- and many-service forms, refusals."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.apps import AppManifest
from contracts.schemas import json_schema

pytestmark = pytest.mark.timeout(10)

EXAMPLE = """
[app]
name = "greenhouse-climate"
version = "1.0.0"
description = "Keeps greenhouse B at its set point"
[runtime]
kind = "python"
command = ["python", "main.py"]
requirements = "requirements.txt"
[http]
health = "/healthz"
public = false
[[sensors]]
bind = "air"
type = "temperature"
count = 1
location = "greenhouse-b"
labels = {}
[[actuators]]
bind = "fan"
type = "relay"
[placement]
replicas = 1
node_labels = {}
[env]
KEY = "value"
"""


def _manifest(text: str) -> AppManifest:
    return AppManifest.model_validate(tomllib.loads(text))


def test_the_documented_example_is_a_valid_one_service_app() -> None:
    manifest = _manifest(EXAMPLE)
    service = manifest.default_service()
    assert (service.name, service.runtime.command, service.http) == ("main", ["python", "main.py"], manifest.http)
    assert [b.bind for b in manifest.sensors] == ["air"] and manifest.sensors[0].location == "greenhouse-b"


def test_several_services_wired_output_to_input() -> None:
    manifest = _manifest("""
[app]
name = "pipeline"
version = "2.1.0-rc.1+build.5"
[[services]]
name = "collector"
runtime = {command = ["python", "collect.py"]}
outputs = ["avg"]
[[services]]
name = "dashboard"
default = true
runtime = {kind = "container", image = "dash:1"}
http = {}
inputs = ["avg_in"]
[[wires]]
from = "collector.avg"
to = "dashboard.avg_in"
""")
    assert manifest.default_service().name == "dashboard"
    assert (manifest.wires[0].source, manifest.wires[0].target) == ("collector.avg", "dashboard.avg_in")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"app": {"name": "Bad_Name", "version": "1.0.0"}}, "app.name"),
        ({"app": {"name": "x", "version": "1.0"}}, "app.version"),
        ({"app": {"name": "-x", "version": "1.0.0"}}, "app.name"),
        ({"runtime": {"kind": "python"}}, "needs a command"),
        ({"runtime": {"kind": "container"}}, "exactly one of image or dockerfile"),
        ({"runtime": {"command": ["python", "m.py"], "requirements": "/etc/passwd"}}, "runtime.requirements"),
        ({"runtime": {"command": ["python", "m.py"], "requirements": "../x.txt"}}, "runtime.requirements"),
        ({"env": {"PORT": "1"}}, "env may not set PORT"),
        ({"sensors": [{"bind": "a", "type": "t"}, {"bind": "a", "type": "u"}]}, "bind names must be unique"),
        ({"placement": {"replicas": 0}}, "placement.replicas"),
        ({"surprise": 1}, "surprise"),
        ({"http": {"health": "no-slash"}}, "http.health"),
    ],
)
def test_refusals_name_the_problem(change: dict[str, Any], problem: str) -> None:
    data = tomllib.loads(EXAMPLE)
    data.update(change)
    with pytest.raises(ValidationError, match=problem):
        AppManifest.model_validate(data)


def test_the_schema_is_served_as_a_contract() -> None:
    schema = json_schema("app-manifest")
    assert schema["$id"].endswith("/app-manifest.json")
    assert {"app", "runtime", "http", "sensors", "actuators", "placement", "env", "services"} <= set(
        schema["properties"]
    )
