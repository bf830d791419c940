"""Settings of ``fieldhub up``: defaults < config file (TOML) < ``FIELDHUB_*`` env < command line."""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cloud.identity.guard import GuardPolicy
from contracts.ids import Identifier
from contracts.telemetry import Limits
from hub.audit.service import AuditRetention
from hub.blobs.factory import BLOBS, BlobContext, check_blob_url
from hub.broker.gate import GateLimits
from hub.errors import ConfigError
from hub.leader import LeasePolicy
from hub.notify.dispatcher import NotifyPolicy
from hub.notify.mail import SmtpConfig
from hub.retention import TelemetryRetention
from hub.security.passwords import ScryptParams
from hub.store.factory import STORES
from hub.store.telemetry import ROLLUP_SPANS
from hub.streams.factory import SINKS

MIN_SCRYPT_N = 2**14
S = TypeVar("S", bound="ProcessSettings")
_WEAK_PASSWORDS = {"admin", "password", "fieldhub", "changeme", "secret"}


class IngestSettings(BaseModel):
    """Bounds and batching of the ingest pipeline."""

    model_config = ConfigDict(extra="forbid")

    max_payload_bytes: int = Field(default=256 * 1024, ge=64, le=16 * 1024 * 1024)
    max_values: int = Field(default=1000, ge=1, le=100_000)
    max_future_s: float = Field(default=600.0, ge=0)
    queue_size: int = Field(default=10_000, ge=1)
    max_batch_points: int = Field(default=20_000, ge=1)
    outbox_keep_s: float = Field(
        default=60.0, ge=1, description="How long stored batches stay in the outbox once every stream has them"
    )
    outbox_cursor_expiry_s: float = Field(
        default=7 * 86400.0, ge=60, description="A stream's cursor no process saved for this long is dropped"
    )

    def limits(self) -> Limits:
        return Limits(self.max_payload_bytes, self.max_values, int(self.max_future_s * 1000))


class LogSettings(BaseModel):
    """The ``[logs]`` section: how long the log store keeps lines, and the hub's own records in it."""

    model_config = ConfigDict(extra="forbid")

    retention_days: float = Field(default=14.0, gt=0, le=3650, description="Lines older than this are archived")
    max_lines: int = Field(
        default=5_000_000, ge=1000, description="Beyond this many lines the oldest are archived (the size limit)"
    )
    retention_interval_s: float = Field(default=300.0, ge=1, le=86400, description="How often retention runs")
    archive: bool = Field(default=True, description="Archive leaving lines to the blob store (else only remove them)")
    hub_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="WARNING", description="The hub's own records from this level go into the log store"
    )
    hub_lines_per_s: float = Field(
        default=10.0, ge=0, le=10_000, description="At most this many hub records a second on average (0: none)"
    )


class TelemetrySettings(BaseModel):
    """The ``[telemetry]`` section: how long raw points and their rollups are kept (a tenant may set its own
    ``telemetry_days``). Rollups are kept at least as long as the raw points of their time."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int | None = Field(
        default=None, ge=1, le=36500, description="Raw points older than this are removed (none: kept)"
    )
    minute_rollup_days: int = Field(default=90, ge=1, le=36500, description="One-minute rollups kept this long")
    hour_rollup_days: int = Field(default=3650, ge=1, le=36500, description="One-hour rollups kept this long")
    retention_interval_s: float = Field(default=3600.0, ge=0.1, le=86400, description="How often retention runs")

    def retention(self) -> TelemetryRetention:
        minute, hour = ROLLUP_SPANS
        rollups = {minute: self.minute_rollup_days, hour: self.hour_rollup_days}
        return TelemetryRetention(self.retention_days, rollups, self.retention_interval_s)


class EventSettings(BaseModel):
    """The ``[events]`` section: how long platform events are kept, and how webhooks are delivered."""

    model_config = ConfigDict(extra="forbid")

    retention_days: float = Field(default=30.0, gt=0, le=3650, description="Events older than this are removed")
    max_per_tenant: int = Field(default=100_000, ge=100, description="Each tenant keeps at most this many, newest")
    retention_interval_s: float = Field(default=600.0, ge=1, le=86400, description="How often retention runs")
    webhook_attempts: int = Field(default=8, ge=1, le=50, description="Tries of one delivery before it is dropped")
    webhook_backoff_s: float = Field(default=1.0, gt=0, le=60, description="Wait after a delivery's first failure")
    webhook_backoff_cap_s: float = Field(default=60.0, gt=0, le=3600, description="Longest wait between tries")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Time an endpoint has to answer")
    webhook_queue: int = Field(default=1000, ge=1, le=100_000, description="Events waiting per webhook (then dropped)")


class AlarmSettings(BaseModel):
    """The ``[alarms]`` section: how long cleared alarms are kept (open ones always are)."""

    model_config = ConfigDict(extra="forbid")

    retention_days: float = Field(default=90.0, gt=0, le=3650, description="Alarms cleared longer ago are removed")
    retention_interval_s: float = Field(default=3600.0, ge=1, le=86400, description="How often retention runs")


class LeaderSettings(BaseModel):
    """The ``[leader]`` section: the lease of the process that does the work done once per hub (hub/leader.py), and
    of each process's broker session (a stopped process's session is taken over once it ran out)."""

    model_config = ConfigDict(extra="forbid")

    ttl_s: float = Field(
        default=10.0, ge=1, le=300, description="How long the lease runs unrenewed: a dead leader's successor waits"
    )
    renew_s: float = Field(default=3.0, gt=0, le=100, description="How often it is renewed, and tried for by others")

    @model_validator(mode="after")
    def _renewed_in_time(self) -> Self:
        if 2 * self.renew_s >= self.ttl_s:
            raise ValueError("leader.ttl_s must exceed twice leader.renew_s (the leader stops before its lease ends)")
        return self

    def policy(self) -> LeasePolicy:
        return LeasePolicy(self.ttl_s, self.renew_s)


class LoginSettings(BaseModel):
    """The ``[login]`` section: login protection (see docs/operations.md#login-protection)."""

    model_config = ConfigDict(extra="forbid")

    max_failures: int = Field(default=10, ge=1, le=1000, description="Failed sign-ins of one username that lock it")
    max_failures_per_address: int = Field(
        default=50, ge=1, le=100_000, description="Failed sign-ins from one client address that lock it"
    )
    window_s: float = Field(default=300.0, gt=0, le=86400, description="...counted within this many seconds")
    cooldown_s: float = Field(default=300.0, gt=0, le=86400, description="How long a lock lasts")

    def policy(self) -> GuardPolicy:
        return GuardPolicy(self.max_failures, self.window_s, self.cooldown_s, self.max_failures_per_address)


class AuditSettings(BaseModel):
    """The ``[audit]`` section: how long the audit trail is kept."""

    model_config = ConfigDict(extra="forbid")

    retention_days: float = Field(default=365.0, gt=0, le=3650, description="Records older than this are removed")
    retention_interval_s: float = Field(default=3600.0, ge=0.1, le=86400, description="How often retention runs")
    queue: int = Field(default=10_000, ge=10, le=1_000_000, description="Records waiting to be stored (then dropped)")

    def retention(self) -> AuditRetention:
        return AuditRetention(self.retention_days, self.retention_interval_s)


class NotifySettings(BaseModel):
    """The ``[notify]`` section: how alarm notifications are tried (each channel has its own rate limit)."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=6, ge=1, le=50, description="Tries of one notification before it is dropped")
    backoff_s: float = Field(default=1.0, gt=0, le=60, description="Wait after a notification's first failure")
    backoff_cap_s: float = Field(default=60.0, gt=0, le=3600, description="Longest wait between tries")
    timeout_s: float = Field(default=15.0, gt=0, le=120, description="Time one try may take")
    queue: int = Field(default=100, ge=1, le=10_000, description="Notifications waiting per channel (then dropped)")
    catch_up_s: float = Field(
        default=3600.0, ge=0, le=7 * 86400, description="After a restart, alarm changes at most this old are told"
    )

    def policy(self) -> NotifyPolicy:
        return NotifyPolicy(
            self.attempts, self.backoff_s, self.backoff_cap_s, self.timeout_s, self.queue, self.catch_up_s
        )


class SmtpSettings(BaseModel):
    """The ``[smtp]`` section: the mail server e-mail channels send through (none: no e-mail channels)."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(default=None, description="The SMTP server; unset, e-mail channels are refused")
    port: int = Field(default=587, ge=1, le=65535, description="587 for starttls, 465 for ssl, 25 for neither")
    username: str | None = Field(default=None, description="Account on the server (none: no login)")
    password: SecretStr | None = Field(default=None, description="Its password (FIELDHUB_SMTP__PASSWORD)")
    password_file: Path | None = Field(default=None, description="Or a file holding it")
    starttls: bool = Field(
        default=True, description="Upgrade the connection with STARTTLS (the server's certificate is checked)"
    )
    ssl: bool = Field(default=False, description="TLS from the start (port 465) instead of STARTTLS")
    sender: str = Field(default="fieldhub@localhost", min_length=3, max_length=254, description="The From address")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Time the server has to answer each step")

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.ssl and self.starttls:
            raise ValueError("smtp.ssl and smtp.starttls exclude each other; set starttls = false with ssl")
        if self.password is None and self.password_file is not None:
            try:
                self.password = SecretStr(self.password_file.read_text().strip())
            except OSError as exc:
                raise ValueError(f"cannot read smtp.password_file {self.password_file}: {exc.strerror}") from exc
        if self.password is not None and self.username is None:
            raise ValueError("smtp.password needs smtp.username")
        return self

    def config(self) -> SmtpConfig | None:
        """What the mail sender needs (None: no host, so no e-mail)."""
        if self.host is None:
            return None
        password = self.password.get_secret_value() if self.password else None
        return SmtpConfig(
            self.host, self.port, self.sender, self.username, password, self.starttls, self.ssl, self.timeout_s
        )


class MosquittoSettings(BaseModel):
    """The ``[mosquitto]`` section: the hub's account on Mosquitto, and how a managed one runs."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(default="fieldhub", min_length=1, description="The hub's account on Mosquitto")
    password: SecretStr | None = Field(default=None, description="Its password (an external Mosquitto)")
    password_file: Path | None = Field(
        default=None, description="Or a file holding it (a managed broker's is <data_dir>/mosquitto/service.secret)"
    )
    ca_file: Path | None = Field(default=None, description="CA bundle to verify an mqtts:// external broker")
    binary: str = Field(default="mosquitto", description="The executable a managed broker runs")
    group: str = Field(
        default="fieldhub", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The shared subscription ingest splits"
    )


class EmbeddedBrokerSettings(BaseModel):
    """The ``[embedded]`` section: what a client may ask of the embedded broker (see hub/broker/gate.py)."""

    model_config = ConfigDict(extra="forbid")

    connect_timeout_s: float = Field(
        default=5.0, gt=0, le=300, description="A connection sends a valid CONNECT (and ends a TLS handshake) by then"
    )
    max_connections: int = Field(
        default=10_000, ge=1, description="Connections in all; lowered to fit the open-file limit (ulimit -n)"
    )
    max_connections_per_address: int = Field(default=1_000, ge=1, description="Connections from one client address")

    def limits(self, ingest: IngestSettings) -> GateLimits:
        # Room for the topic and header beside the largest payload ingest takes.
        packet = ingest.max_payload_bytes + 64 * 1024
        return GateLimits(self.connect_timeout_s, self.max_connections, self.max_connections_per_address, packet)


class AzureSettings(BaseModel):
    """The ``[azure]`` section: the Azure Storage account of an ``azure://CONTAINER`` blob store."""

    model_config = ConfigDict(extra="forbid")

    storage_connection_string: SecretStr | None = Field(
        default=None,
        description="The account's connection string (FIELDHUB_AZURE_STORAGE_CONNECTION_STRING); not in files",
    )


class LdapGroup(BaseModel):
    """What membership of one directory group grants: a role in a tenant (``tenant`` null: platform admin)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "user"]
    tenant: Identifier | None

    @model_validator(mode="after")
    def _tenant_or_admin(self) -> Self:
        if self.tenant is None and self.role != "admin":
            raise ValueError('a group without a tenant makes platform admins: its role must be "admin"')
        return self


class LdapSettings(BaseModel):
    """The ``[ldap]`` section: directory sign-in (unset ``url``: local users only); see docs/operations.md."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="ldap://host[:port] or ldaps://host[:port]")
    start_tls: bool = Field(default=False, description="Upgrade an ldap:// connection with StartTLS")
    ca_file: Path | None = Field(default=None, description="CA bundle that verifies the directory's certificate")
    bind_dn: str | None = Field(default=None, description="The service account that searches (none: anonymous)")
    bind_password: SecretStr | None = Field(default=None, description="Its password (FIELDHUB_LDAP__BIND_PASSWORD)")
    bind_password_file: Path | None = Field(default=None, description="Or a file holding it")
    user_base: str | None = Field(default=None, description="Where users are searched (subtree)")
    user_filter: str = Field(default="(uid={username})", description="{username} is replaced, escaped (RFC 4515)")
    group_base: str | None = Field(default=None, description="Where groups naming the user are searched")
    groups: dict[str, LdapGroup] = Field(default_factory=dict, description="Group DN -> role and tenant")
    recheck_s: int = Field(default=300, ge=10, le=86400, description="Longest life of a directory user's token")
    timeout_s: float = Field(default=2.0, gt=0, le=30, description="Connect and answer timeout of each request")
    pool_size: int = Field(default=4, ge=1, le=32, description="Service-account connections kept open")

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
                raise ValueError(f"ldap.url must be ldap://host[:port] or ldaps://host[:port], not {url[:80]!r}")
            try:
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError as exc:
                raise ValueError(f"ldap.url has a bad port: {url[:80]!r}") from exc
        return url

    @field_validator("groups", mode="before")
    @classmethod
    def _json_groups(cls, value: object) -> object:
        # A JSON string in a TOML file too: TOML has no null, which names a platform admin group.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"ldap.groups is not a JSON object: {exc}") from None
        return value

    @field_validator("user_filter")
    @classmethod
    def _one_placeholder(cls, template: str) -> str:
        try:
            filled = template.format(username="x")
        except (KeyError, IndexError, ValueError):
            filled = ""
        if "{username}" not in template or not (filled.startswith("(") and filled.endswith(")")):
            raise ValueError("ldap.user_filter must be a parenthesized filter with {username} and no other braces")
        return template

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.url is None:
            return self
        if self.start_tls and self.url.startswith("ldaps:"):
            raise ValueError("ldap.start_tls is for ldap:// URLs; ldaps:// is TLS from the start")
        if self.bind_password is None and self.bind_password_file is not None:
            try:
                self.bind_password = SecretStr(self.bind_password_file.read_text().strip())
            except OSError as exc:
                raise ValueError(
                    f"cannot read ldap.bind_password_file {self.bind_password_file}: {exc.strerror}"
                ) from exc
        if (self.bind_dn is None) != (self.bind_password is None):
            raise ValueError("ldap.bind_dn and ldap.bind_password (or ldap.bind_password_file) go together")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ldap.ca_file {self.ca_file} is not a readable file")
        if not self.user_base:
            raise ValueError("ldap.url needs ldap.user_base")
        if not self.groups:
            raise ValueError("ldap.url needs ldap.groups: nobody could sign in from the directory without them")
        return self

    @property
    def encrypted(self) -> bool:
        """Whether passwords travel encrypted to the directory (ldaps:// or StartTLS)."""
        return self.start_tls or (self.url or "").startswith("ldaps:")


class _FlatEnvNames(PydanticBaseSettingsSource):
    """Env names without the section's double underscore, as the Azure docs and operators spell them.

    ``FIELDHUB_AZURE_STORAGE_CONNECTION_STRING`` reads as ``azure.storage_connection_string``; the nested name
    ``FIELDHUB_AZURE__STORAGE_CONNECTION_STRING`` works too and wins when both are set.
    """

    NAMES: ClassVar[dict[str, tuple[str, str]]] = {
        "FIELDHUB_AZURE_STORAGE_CONNECTION_STRING": ("azure", "storage_connection_string")
    }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the names itself

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for env, (section, key) in self.NAMES.items():
            value = os.environ.get(env)
            if value:
                values.setdefault(section, {})[key] = value
        return values


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _known_url(url: str | None, check: Callable[[str], object]) -> str | None:
    """``url`` if ``check`` accepts it (or it is unset); a :class:`ConfigError` becomes pydantic's ValueError."""
    if url is not None:
        try:
            check(url)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
    return url


class ProcessSettings(BaseSettings):
    """What every hub process is told (``fieldhub up`` and ``fieldhub serve``); see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="FIELDHUB_", env_nested_delimiter="__", extra="forbid")
    #: Sources read after the ``FIELDHUB_*`` env and before the config file (env names of other spellings).
    env_sources: ClassVar[tuple[type[PydanticBaseSettingsSource], ...]] = ()

    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    store: str | None = Field(default=None, description="Store URL; default sqlite:///<data_dir>/fieldhub.db")
    broker: str = Field(
        default="embedded",
        description="embedded (amqtt), mosquitto (a managed child) or mqtt[s]://host:port (external Mosquitto)",
    )
    mosquitto: MosquittoSettings = MosquittoSettings()
    replica_id: str = Field(
        default="hub", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Names this process's broker session"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    ingest: IngestSettings = IngestSettings()
    #: The leases of every process: the leader's, and the one saying its broker session is in use.
    leader: LeaderSettings = LeaderSettings()
    probe_port: int | None = Field(
        default=None, ge=0, le=65535, description="/healthz and /metrics without a token, on host (0: a free port)"
    )

    @field_validator("store")
    @classmethod
    def _known_store(cls, url: str | None) -> str | None:
        return _known_url(url, STORES.check)

    @field_validator("broker")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if value in ("embedded", "mosquitto"):
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or parts.port is None:
            raise ValueError(f"{value!r}: use embedded, mosquitto or mqtt://host:port (mqtts:// for TLS)")
        if parts.username or parts.password:
            raise ValueError("put the broker account in mosquitto.username and mosquitto.password, not in the URL")
        return value

    @property
    def external_broker(self) -> bool:
        return self.broker not in ("embedded", "mosquitto")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        extra = tuple(source(settings_cls) for source in cls.env_sources)
        return init_settings, env_settings, *extra, TomlConfigSettingsSource(settings_cls)

    @model_validator(mode="after")
    def _read_broker_password(self) -> Self:
        section = self.mosquitto
        if not self.external_broker or section.password is not None:
            return self
        path = section.password_file
        if path is None:
            raise ValueError(f"broker {self.broker} needs mosquitto.password or mosquitto.password_file")
        try:
            section.password = SecretStr(path.read_text().strip())
        except OSError as exc:
            raise ValueError(f"cannot read mosquitto.password_file {path}: {exc.strerror}") from exc
        return self

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.data_dir / 'fieldhub.db'}"

    @property
    def local_host(self) -> str:
        """Where this machine reaches the hub's own listeners (``host``, or loopback for a wildcard)."""
        try:
            if ipaddress.ip_address(self.host).is_unspecified:
                return "127.0.0.1"
        except ValueError:
            pass
        return self.host


class HubSettings(ProcessSettings):
    """Everything ``fieldhub up`` can be told; see docs/configuration.md."""

    mqtt_port: int = Field(default=1883, ge=0, le=65535)
    http_port: int = Field(default=8080, ge=0, le=65535)
    mqtts_port: int | None = Field(default=None, ge=0, le=65535, description="MQTT over TLS; needs tls_cert_file")
    tls_cert_file: Path | None = Field(default=None, description="PEM certificate chain of the MQTT TLS listener")
    tls_key_file: Path | None = Field(default=None, description="PEM private key of the MQTT TLS listener")
    admin_password: SecretStr | None = None
    secret_key: SecretStr | None = Field(default=None, description="Token signing key; generated in data_dir if unset")
    token_ttl_s: int = Field(default=3600, ge=60, le=7 * 86400)
    scrypt_n: int = Field(default=MIN_SCRYPT_N, ge=2, description="scrypt work factor (power of two)")
    metrics_token: SecretStr | None = Field(
        default=None, description="A bearer token for /metrics on the API listener (platform admins need none)"
    )
    broker_hook_token: SecretStr | None = Field(
        default=None, description="Enables /api/v1/broker/auth and /authz for external brokers (bearer token)"
    )
    command_timeout_s: float = Field(default=10.0, gt=0, le=300)
    embedded: EmbeddedBrokerSettings = EmbeddedBrokerSettings()
    public_url: str | None = None
    demo: bool = False
    stream_drain_s: float = Field(
        default=5.0, ge=0, le=60, description="At shutdown, how long streams may take to catch up before the hub exits"
    )
    stream: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Northbound streams, e.g. nats://127.0.0.1:4222 (comma-separated in env)"
    )
    blob: str | None = Field(
        default=None, description="Blob store of app packages; default file:// (<data_dir>/blobs), or azure://CONTAINER"
    )
    azure: AzureSettings = AzureSettings()
    logs: LogSettings = LogSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    events: EventSettings = EventSettings()
    alarms: AlarmSettings = AlarmSettings()
    smtp: SmtpSettings = SmtpSettings()
    ldap: LdapSettings = LdapSettings()
    notify: NotifySettings = NotifySettings()
    login: LoginSettings = LoginSettings()
    audit: AuditSettings = AuditSettings()
    node_suspect_s: float = Field(
        default=7.0, gt=0, le=86400, description="A node whose latest heartbeat is this old is suspect"
    )
    node_dead_s: float = Field(
        default=10.0, gt=0, le=86400, description="...and this old, dead: its app instances are placed elsewhere"
    )

    env_sources: ClassVar[tuple[type[PydanticBaseSettingsSource], ...]] = (_FlatEnvNames,)

    @field_validator("blob")
    @classmethod
    def _known_blob(cls, url: str | None) -> str | None:
        return _known_url(url, check_blob_url)

    @model_validator(mode="after")
    def _blob_account(self) -> Self:
        if self.blob is not None and BLOBS.key(self.blob) == "azure" and self.azure.storage_connection_string is None:
            raise ValueError(
                f"blob {self.blob} needs azure.storage_connection_string (FIELDHUB_AZURE_STORAGE_CONNECTION_STRING)"
            )
        return self

    @property
    def blob_context(self) -> BlobContext:
        """What :func:`hub.blobs.factory.open_blob_store` needs beside ``blob``."""
        secret = self.azure.storage_connection_string
        return BlobContext(self.data_dir, secret.get_secret_value() if secret else None)

    @field_validator("stream", mode="before")
    @classmethod
    def _split_streams(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("stream")
    @classmethod
    def _known_streams(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not urlsplit(url).hostname:
                raise ValueError(f"{url!r} names no host")
            try:
                SINKS.check(url)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return urls

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Self:
        if self.scrypt_n & (self.scrypt_n - 1):
            raise ValueError("scrypt_n must be a power of two")
        if self.mqtts_port is not None:
            for name, path in (("tls_cert_file", self.tls_cert_file), ("tls_key_file", self.tls_key_file)):
                if path is None or not path.is_file():
                    raise ValueError(f"mqtts_port needs {name} to name a readable PEM file (got {path})")
        if self.demo:
            return self
        problems = []
        if self.admin_password is not None:
            password = self.admin_password.get_secret_value()
            if len(password) < 12 or password.lower() in _WEAK_PASSWORDS:
                problems.append("admin_password must have at least 12 characters and not be a common word")
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            problems.append("secret_key must have at least 32 characters")
        for name in ("broker_hook_token", "metrics_token"):
            token = getattr(self, name)
            if token is not None and len(token.get_secret_value()) < 32:
                problems.append(f"{name} must have at least 32 characters")
        if self.scrypt_n < MIN_SCRYPT_N:
            problems.append(f"scrypt_n below {MIN_SCRYPT_N} is only allowed with --demo")
        if problems:
            raise ValueError("insecure settings refused outside --demo: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _smtp_password_in_clear(self) -> Self:
        if not self.demo and self.smtp.password is not None and not (self.smtp.starttls or self.smtp.ssl):
            raise ValueError("insecure settings refused outside --demo: smtp.password needs smtp.starttls or smtp.ssl")
        return self

    @model_validator(mode="after")
    def _ldap_in_clear(self) -> Self:
        url = self.ldap.url
        if self.demo or url is None or self.ldap.encrypted or _is_loopback(urlsplit(url).hostname or ""):
            return self
        raise ValueError(
            "insecure settings refused outside --demo: ldap.url sends passwords in clear; "
            "use ldaps:// or ldap.start_tls (plain ldap:// only to a loopback address)"
        )

    @property
    def hash_params(self) -> ScryptParams:
        return ScryptParams(n=self.scrypt_n)

    def http_url(self, port: int) -> str:
        """The URL people should open (public_url when set)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.local_host}:{port}"


class ReplicaSettings(ProcessSettings):
    """Everything ``fieldhub serve --role ingest`` can be told: what every process is.

    ``fieldhub up``'s own keys are refused by name.
    """


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"invalid settings ({source}):"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def load_settings(config_file: Path | None = None, **overrides: Any) -> HubSettings:
    """The settings of ``fieldhub up`` from a TOML file, the environment and ``overrides``.

    Raises:
        ConfigError: naming the file and each wrong key, before anything starts.
    """
    return _load(HubSettings, config_file, overrides)


def load_replica_settings(config_file: Path | None = None, **overrides: Any) -> ReplicaSettings:
    """The settings of ``fieldhub serve --role ingest``, from the same sources."""
    return _load(ReplicaSettings, config_file, overrides)


def _load(kind: type[S], config_file: Path | None, overrides: dict[str, Any]) -> S:
    cls: type[S] = kind
    source = "FIELDHUB_* environment and command line"
    if config_file is not None:
        try:
            with config_file.open("rb") as fh:
                tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from exc
        config = SettingsConfigDict(**{**kind.model_config, "toml_file": config_file})
        cls = type(f"File{kind.__name__}", (kind,), {"model_config": config})
        source = f"{config_file}, environment and command line"
    try:
        return cls(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
