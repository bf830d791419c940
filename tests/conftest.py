"""Shared fixtures: a real hub per test, an admin API client, unique device ids, log checks."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from cloud.runtime import HubRuntime
from tests.helpers.ferretdb import FerretDB
from tests.helpers.hub import Api, running_hub
from tests.helpers.mosquitto import ExternalMosquitto
from tests.helpers.nats_server import NatsServer
from tests.helpers.process import HubProcess, running_hub_process
from tests.helpers.slapd import DIRECTORY_GROUPS, DIRECTORY_USERS, Slapd
from tests.helpers.tansu import TansuBroker
from tests.helpers.tls import certificate_authority

_OUR_PACKAGES = ("hub", "cloud", "contracts", "edge_agent", "device_drivers")


class _ExceptionRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.name.split(".")[0] in _OUR_PACKAGES:
            self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_logged_exception(request: pytest.FixtureRequest) -> Iterator[None]:
    """A logged traceback from Fieldhub code fails the test, even if the test itself passed."""
    recorder = _ExceptionRecorder()
    logging.getLogger().addHandler(recorder)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(recorder)
    if recorder.records and "allow_logged_exceptions" not in request.keywords:
        first = recorder.records[0]
        pytest.fail(f"exception logged by {first.name}: {first.getMessage()}")


@pytest.fixture
def unique_id() -> str:
    return f"dev-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubRuntime]:
    async with running_hub(tmp_path / "data") as runtime:
        yield runtime


@pytest.fixture(params=["embedded", "mosquitto"])
async def each_broker_hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HubRuntime]:
    """A real hub on the embedded broker, then on a managed Mosquitto."""
    async with running_hub(tmp_path / "data", broker=request.param) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def hub_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A real ``fieldhub up`` child process, shared by the tests of a module (for tests of the command line)."""
    with running_hub_process(tmp_path_factory.mktemp("hub-process") / "data") as hub:
        yield hub


@pytest.fixture
async def api(hub: HubRuntime) -> AsyncIterator[Api]:
    client = await Api.login(hub.url)
    yield client
    await client.close()


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    """gpiozero's mock pins (no GPIO exists here); restores the default factory afterwards."""
    factory = MockFactory()
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = None


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """One real OpenLDAP slapd for the test session (per xdist worker): see tests/helpers/slapd.py for its people
    and groups. Tests that change memberships use users of their own."""
    with Slapd(tmp_path_factory.mktemp("slapd"), DIRECTORY_USERS, DIRECTORY_GROUPS) as server:
        yield server


@pytest.fixture(scope="session")
def slapd_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """A second session slapd, with the same people and groups, that serves TLS only: StartTLS on ``url``, TLS
    from the start on ``ldaps_url``, its certificate signed by the CA ``slapd_tls.tls`` (clients' ``ca_file``)."""
    work = tmp_path_factory.mktemp("slapd-tls")
    ca = certificate_authority(work / "ca")
    with Slapd(work / "server", DIRECTORY_USERS, DIRECTORY_GROUPS, tls=ca) as server:
        yield server


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerretDB]:
    """One FerretDB (a MongoDB wire-protocol server on SQLite) for the test session (per xdist worker); built from
    Go on first use (tests/helpers/ferretdb.py). Tests keep to databases of their own."""
    with FerretDB(tmp_path_factory.mktemp("ferretdb")) as server:
        yield server


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ExternalMosquitto]:
    """An external Mosquitto of the test's own, with the hub's account and no device (modules may override it)."""
    mosquitto = ExternalMosquitto(tmp_path / "mosquitto")
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def kafka() -> Iterator[TansuBroker]:
    """A Kafka-protocol broker of the test's own (Tansu), on a free port."""
    broker = TansuBroker()
    broker.start()
    yield broker
    broker.stop()
