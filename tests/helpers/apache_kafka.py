"""A real Apache Kafka broker (KRaft, one node) for integration tests, its jars fetched from Maven Central.

Tansu (``tests/helpers/tansu.py``) starts in milliseconds but keeps everything in memory; this broker is
the reference implementation and keeps topics, records and committed offsets on disk across a restart.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from tests.helpers.ports import free_port
from tests.helpers.servers import ServerProcess, cache_root, fetch_once, require

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).with_name("kafka-pom.xml")
MARKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"
DOWNLOAD_TIMEOUT = 900.0
FORMAT_TIMEOUT = 60.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
NEEDS = (
    "the Apache Kafka test broker needs Java 17+ and Maven (Debian: apt-get install -y openjdk-17-jre-headless maven)"
)

# Root WARN to stderr: Kafka's INFO chatter would bury the one line that explains a failed start.
LOG4J2 = """\
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
"""

_log = logging.getLogger(__name__)


def kafka_libs() -> Path:
    """The directory of Kafka's runtime jars, downloaded by Maven on first use and cached
    (see :func:`tests.helpers.servers.fetch_once`)."""
    require("java", NEEDS)

    def download(staged: Path) -> list[str]:
        goal = ["dependency:copy-dependencies", f"-DoutputDirectory={staged}", "-DincludeScope=runtime"]
        return [require("mvn", NEEDS), "-q", "-B", "-f", str(POM), *goal]

    libs = cache_root() / f"kafka-{KAFKA_VERSION}" / "lib"
    return fetch_once(libs, MARKER_JAR, download, f"Apache Kafka {KAFKA_VERSION} jars", DOWNLOAD_TIMEOUT)


def _cluster_id() -> str:
    """A Kafka cluster id: urlsafe base64 of 16 random bytes; Kafka avoids a leading '-' (read as an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class ApacheKafka(ServerProcess):
    """One broker+controller node in ``work``; ``start()`` after ``stop()`` reuses its data and ports.

    The ports are picked once so that clients configured before an outage find the broker again.
    """

    name = "Apache Kafka"
    log_name = "kafka.log"
    start_timeout = START_TIMEOUT
    stop_timeout = STOP_TIMEOUT
    poll_s = 0.1

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.broker_port: int | None = None
        self.controller_port: int | None = None

    @property
    def bootstrap(self) -> str:
        if self.broker_port is None:
            raise RuntimeError("start() the broker before asking for its address")
        return f"127.0.0.1:{self.broker_port}"

    def _prepare(self) -> list[str]:
        classpath = f"{kafka_libs()}/*"  # java expands the wildcard itself; no shell involved
        java = require("java", NEEDS)
        if self.broker_port is None or self.controller_port is None:
            self.broker_port = free_port()
            self.controller_port = free_port()
            while self.controller_port == self.broker_port:
                self.controller_port = free_port()
        config, log4j = self._write_config()
        jvm = [java, "-Xmx512m", f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
        if not (self.work / "data" / "meta.properties").is_file():
            self._format(jvm, config)
        return [*jvm, "kafka.Kafka", str(config)]

    def _write_config(self) -> tuple[Path, Path]:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.broker_port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.broker_port}",
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(self.work / "data"),
            "num.partitions": "3",
            "auto.create.topics.enable": "true",
            # One node: internal topics cannot have more replicas than brokers.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",  # the default 3 s would slow every first group join
        }
        config = self.work / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        log4j = self.work / "log4j2.properties"
        log4j.write_text(LOG4J2)
        return config, log4j

    def _format(self, jvm: list[str], config: Path) -> None:
        """KRaft refuses to start on an unformatted log dir; formatting again would fail on a used one."""
        command = [*jvm, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config), "--standalone"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=FORMAT_TIMEOUT, check=False)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise RuntimeError(f"kafka-storage format failed (exit {result.returncode}):\n{output}")

    def _readiness(self) -> Callable[[], bool]:
        """An open port is not enough: the broker serves only once it has joined its own quorum."""
        # A short reconnect backoff: librdkafka's default grows to 10 s and would delay noticing the broker.
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "reconnect.backoff.max.ms": 250}, logger=_log)

        def answers() -> bool:
            try:
                return bool(admin.list_topics(timeout=1).brokers)
            except KafkaException:
                return False  # not answering yet

        return answers
