"""Notification channels of a tenant: where the alarms of its rules are told (docs/alarms.md#channels).

``webhook`` posts the :class:`contracts.alarms.Notification` as JSON, signed with HMAC-SHA256 (the channel's
secret, told once); ``email`` sends it over SMTP to ``to``; ``mqtt`` publishes it on the hub's broker to
``devices/{device}/alarms`` of one of the tenant's devices (a siren, a display); ``stream`` writes it to the
hub's northbound streams. Each channel sends at most ``rate_per_min`` notifications a minute; beyond that they
are counted as suppressed, and a channel that is down never holds up another channel or ingest.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

from contracts.devices import Name
from contracts.ids import Identifier

EmailAddress = Annotated[
    str, StringConstraints(pattern=r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$", max_length=254)
]


class ChannelKind(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    MQTT = "mqtt"
    STREAM = "stream"


def _short(url: AnyHttpUrl) -> AnyHttpUrl:
    if len(str(url)) > 2048:
        raise ValueError("at most 2048 characters")
    return url


#: Where a webhook (an event subscription or an alarm channel) posts: http or https, at most 2048 characters.
WebhookUrl = Annotated[
    AnyHttpUrl, AfterValidator(_short), Field(description="http:// or https:// endpoint that takes a JSON POST")
]


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal[ChannelKind.WEBHOOK] = ChannelKind.WEBHOOK
    url: WebhookUrl


class EmailTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal[ChannelKind.EMAIL] = ChannelKind.EMAIL
    to: list[EmailAddress] = Field(min_length=1, max_length=20)


class MqttTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal[ChannelKind.MQTT] = ChannelKind.MQTT
    device: Identifier = Field(description="A device of the tenant; it subscribes to devices/{device}/alarms")


class StreamTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal[ChannelKind.STREAM] = ChannelKind.STREAM


Target = Annotated[WebhookTarget | EmailTarget | MqttTarget | StreamTarget, Field(discriminator="kind")]


class ChannelCreate(BaseModel):
    """Body of ``POST /api/v1/channels``."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    target: Target
    enabled: bool = True
    rate_per_min: int = Field(default=30, ge=1, le=6000, description="Most notifications a minute; more are suppressed")


class ChannelPatch(BaseModel):
    """Body of ``PATCH /api/v1/channels/{id}`` (a channel's kind stays; its target may change within it)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    target: Target | None = None
    enabled: bool | None = None
    rate_per_min: int | None = Field(default=None, ge=1, le=6000)


class Deliveries(BaseModel):
    """How sending to a channel has gone."""

    delivered: int = 0
    failed_attempts: int = Field(default=0, description="Attempts that failed (each is tried again with backoff)")
    dropped: int = Field(default=0, description="Notifications given up after the last attempt")
    suppressed: int = Field(default=0, description="Notifications not sent: over the channel's rate limit")
    last_attempt: int | None = None
    last_error: str | None = Field(default=None, description="Why the last attempt failed (null: it succeeded)")
    last_delivered: int | None = None


class Channel(BaseModel):
    """A channel as the API shows it (never with its secret)."""

    id: str = Field(description="ch-<hex>")
    tenant: Identifier
    name: str
    kind: ChannelKind
    target: Target
    enabled: bool
    rate_per_min: int
    created: int
    deliveries: Deliveries = Field(default_factory=Deliveries)


class ChannelCreated(Channel):
    """A new channel; a webhook's with the secret that signs its deliveries, told this once."""

    secret: str | None = None
