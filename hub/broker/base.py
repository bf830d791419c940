"""What the hub needs from an MQTT broker, whichever broker it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """An authenticated device session: who it is and which tenant it belongs to."""

    device_id: str
    tenant: str


class Publisher(Protocol):
    """Publishes downlink messages (commands, desired state, status) to devices."""

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish one message; retained messages replace the previous one on the topic."""


class SessionControl(Protocol):
    """Acts on live device sessions."""

    async def disconnect_device(self, device_id: str) -> int:
        """Close every live session of a device and forget what every hub process knows of it.

        Returns how many sessions this process closed.
        """


class BrokerAccounts(Protocol):
    """A broker that checks credentials and ACLs itself, told of every registry change.

    Each method raises :class:`hub.errors.BrokerUnavailable` when the broker did not take the
    change; the registry then leaves its own record as it was.
    """

    async def devices_created(self, devices: Mapping[str, str]) -> None:
        """Add the accounts and ACLs of new devices (device id -> secret), all in one change."""

    async def secret_rotated(self, device_id: str, secret: str, *, enabled: bool) -> None:
        """Replace the password (and close the device's sessions)."""

    async def device_enabled(self, device_id: str, enabled: bool) -> None:
        """Allow or refuse the device from now on (disabling closes its sessions)."""

    async def device_deleted(self, device_id: str) -> None:
        """Remove the account and ACL (and close the device's sessions)."""


class InboundHandler(Protocol):
    """Receives what devices send, after authentication and ACL."""

    async def on_connect(self, identity: DeviceIdentity) -> None:
        """A device session started."""

    async def on_disconnect(self, identity: DeviceIdentity) -> None:
        """A device session ended (cleanly or not)."""

    async def on_message(self, identity: DeviceIdentity, topic: str, payload: bytes, *, stored: bool) -> None:
        """A device published a message the ACL allowed.

        With ``stored``, return only once the message is durably handled (telemetry written to
        the store), because the broker acknowledges it when this returns (QoS 1/2).
        """


@dataclass(frozen=True, slots=True)
class TlsListener:
    """An MQTT-over-TLS listener beside the plain one (same host, same authentication), on either broker."""

    port: int
    certfile: Path
    keyfile: Path
