"""Backends by name: every kind's registry builds what is registered and refuses the rest, naming what is known."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cloud.brokers import BROKERS
from cloud.cli.main import cli
from cloud.settings import load_settings
from hub.backends import BackendRegistry
from hub.blobs.factory import BLOBS
from hub.errors import ConfigError
from hub.store.factory import STORES
from hub.streams.factory import SINKS

REGISTRIES = (BROKERS, STORES, SINKS, BLOBS)
DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_a_registry_builds_by_scheme_or_name_and_refuses_the_unknown() -> None:
    things: BackendRegistry[str] = BackendRegistry("thing")

    @things.register("tcp", "over TCP", "tcp://host:1")
    def _tcp(url: str) -> str:
        return f"tcp thing at {url}"

    @things.register("local", "in the process", "local")
    def _local(url: str) -> str:
        return "local thing"

    assert things.build("tcp://h:1") == "tcp thing at tcp://h:1"
    assert things.build("local") == "local thing"
    assert things.names() == ["local", "tcp"]
    with pytest.raises(ConfigError, match=r"unknown thing 'udp://h:1': use one of tcp://host:1, local"):
        things.build("udp://h:1")
    with pytest.raises(ValueError, match="registered twice"):
        things.register("tcp", "again", "tcp://x")(_tcp)


def test_every_backend_is_listed_by_fieldhub_up_help_and_in_the_configuration_docs() -> None:
    help_text = CliRunner().invoke(cli, ["up", "--help"], terminal_width=200).output
    docs = DOCS.read_text()
    for registry in REGISTRIES:
        for name, example, summary in registry.table():
            assert example in help_text and summary in help_text, (registry.kind, name)
            assert f"`{example}`" in docs, f"docs/configuration.md does not list the {registry.kind} {name}"


def test_an_unknown_store_is_refused_by_the_settings() -> None:
    # A scheme no backend registers; the refusal names every store that is known.
    known = "sqlite:///path/to/fieldhub.db, mongodb://user:password@host:27017/fieldhub"
    with pytest.raises(ConfigError, match=rf"unknown store 'cassandra://h/x': use one of {known}"):
        load_settings(demo=True, store="cassandra://h/x")
    assert load_settings(demo=True, store="sqlite:///tmp/x.db").store_url == "sqlite:///tmp/x.db"


def test_a_refused_store_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(demo=True, store="mongodb+srv://hub:s3cret-pw@cluster.example/fieldhub")
    assert "s3cret-pw" not in str(refused.value)
    assert "mongodb+srv://hub:***@cluster.example/fieldhub" in str(refused.value)
