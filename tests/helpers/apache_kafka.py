"""A real Apache Kafka broker (KRaft, one node) for integration tests, its jars fetched from Maven Central.

Tansu (``tests/helpers/tansu.py``) starts in milliseconds but keeps everything in memory; this broker is
the reference implementation and keeps topics, records and committed offsets on disk across a restart.
"""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from tests.helpers.ports import free_port

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).with_name("kafka-pom.xml")
MARKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"
DOWNLOAD_TIMEOUT = 900.0
FORMAT_TIMEOUT = 60.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

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


def _require(tool: str) -> str:
    """The path of ``tool``; a missing JDK or Maven should read as a setup problem, not a test failure."""
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(
            f"`{tool}` is not on PATH: the Apache Kafka test broker needs Java 17+ and Maven "
            "(Debian: apt-get install -y openjdk-17-jre-headless maven)"
        )
    return path


def kafka_libs() -> Path:
    """The directory of Kafka's runtime jars, downloaded by Maven on first use and cached.

    The jars are staged in a temporary directory and renamed into place, so a download cut short is
    never mistaken for a complete one; a file lock makes parallel pytest workers download only once.
    ``$FIELDHUB_TEST_CACHE`` replaces the cache root ``~/.cache/fieldhub-tests``.
    """
    _require("java")
    home = Path(os.environ.get("FIELDHUB_TEST_CACHE") or Path.home() / ".cache" / "fieldhub-tests")
    home = home / f"kafka-{KAFKA_VERSION}"
    libs = home / "lib"
    if (libs / MARKER_JAR).is_file():
        return libs
    mvn = _require("mvn")
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process dies
        if (libs / MARKER_JAR).is_file():  # another worker finished while this one waited
            return libs
        with tempfile.TemporaryDirectory(dir=home, prefix=".download-") as tmp:
            staged = Path(tmp) / "lib"
            goal = ["dependency:copy-dependencies", f"-DoutputDirectory={staged}", "-DincludeScope=runtime"]
            started = time.monotonic()
            result = subprocess.run(
                [mvn, "-q", "-B", "-f", str(POM), *goal],
                capture_output=True,
                text=True,
                timeout=DOWNLOAD_TIMEOUT,
                check=False,
            )
            if result.returncode != 0 or not (staged / MARKER_JAR).is_file():
                output = (result.stdout + result.stderr)[-4000:]
                raise RuntimeError(f"mvn could not fetch Kafka {KAFKA_VERSION} (exit {result.returncode}):\n{output}")
            if libs.exists():  # left by hand or an older layout: it lacks the marker jar, so it is incomplete
                shutil.rmtree(libs)
            staged.rename(libs)
            _log.info("downloaded Apache Kafka %s jars in %.1f s", KAFKA_VERSION, time.monotonic() - started)
    return libs


def _cluster_id() -> str:
    """A Kafka cluster id: urlsafe base64 of 16 random bytes; Kafka avoids a leading '-' (read as an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class ApacheKafka:
    """One broker+controller node in ``work``; ``start()`` after ``stop()`` reuses its data and ports.

    The ports are picked once so that clients configured before an outage find the broker again.
    """

    def __init__(self, work: Path) -> None:
        self.work = work
        self.broker_port: int | None = None
        self.controller_port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        if self.broker_port is None:
            raise RuntimeError("start() the broker before asking for its address")
        return f"127.0.0.1:{self.broker_port}"

    @property
    def log_path(self) -> Path:
        return self.work / "kafka.log"

    def start(self) -> None:
        """Start the JVM and return once the broker answers a metadata request."""
        if self.proc is not None:
            raise RuntimeError("Apache Kafka is already running")
        classpath = f"{kafka_libs()}/*"  # java expands the wildcard itself; no shell involved
        java = _require("java")
        self.work.mkdir(parents=True, exist_ok=True)
        if self.broker_port is None or self.controller_port is None:
            self.broker_port = free_port()
            self.controller_port = free_port()
            while self.controller_port == self.broker_port:
                self.controller_port = free_port()
        config, log4j = self._write_config()
        jvm = [java, "-Xmx512m", f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
        if not (self.work / "data" / "meta.properties").is_file():
            self._format(jvm, config)
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([*jvm, "kafka.Kafka", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(self.proc)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM lets Kafka close its logs cleanly, so the next start needs no recovery."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        """An open port is not enough: the broker serves only once it has joined its own quorum."""
        # A short reconnect backoff: librdkafka's default grows to 10 s and would delay noticing the broker.
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "reconnect.backoff.max.ms": 250}, logger=_log)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if admin.list_topics(timeout=1).brokers:
                    return
            except KafkaException:
                pass  # not answering yet
            try:
                code = proc.wait(0.1)  # paces the loop and notices a crash at once
            except subprocess.TimeoutExpired:
                pass
            else:
                raise RuntimeError(f"Apache Kafka exited with {code} while starting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Apache Kafka did not answer within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")
