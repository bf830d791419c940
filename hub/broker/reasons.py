"""MQTT 3.1.1 CONNACK return codes, and which one each Fieldhub error is answered with.

The HTTP side of the same mapping is :mod:`cloud.api.errors` (error code -> status). A broker
speaking MQTT 3.1.1 can give a reason only when it refuses a connection; a refused publish or
subscription has no code of its own (a SUBACK says 0x80, a PUBLISH is acknowledged and counted).
"""

from __future__ import annotations

import enum

from contracts.errors import AuthRefusal, ErrorCode, FieldhubError


class ConnackCode(enum.IntEnum):
    """The return codes of MQTT 3.1.1, section 3.2.2.3."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USERNAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5

    @property
    def text(self) -> str:
        return self.name.lower().replace("_", " ").replace("username", "user name")


def describe_connack(code: int) -> str:
    """What a CONNACK return code means, also for codes outside the specification."""
    try:
        return ConnackCode(code).text
    except ValueError:
        return f"return code {code}"


_BY_REFUSAL = {
    # Unknown device and wrong password answer alike, so a refusal never tells whether an id exists.
    AuthRefusal.NO_CREDENTIALS: ConnackCode.BAD_USERNAME_OR_PASSWORD,
    AuthRefusal.UNKNOWN_DEVICE: ConnackCode.BAD_USERNAME_OR_PASSWORD,
    AuthRefusal.BAD_PASSWORD: ConnackCode.BAD_USERNAME_OR_PASSWORD,
    # Only said to a client that proved it holds the device's password.
    AuthRefusal.DISABLED: ConnackCode.NOT_AUTHORIZED,
    AuthRefusal.CLIENT_ID: ConnackCode.IDENTIFIER_REJECTED,
}


def connack_code(error: FieldhubError) -> ConnackCode:
    """The CONNACK return code that refuses a connection because of ``error``."""
    if error.reason is not None and error.reason in _BY_REFUSAL:
        return _BY_REFUSAL[AuthRefusal(error.reason)]
    if error.retryable or error.code is ErrorCode.UNAVAILABLE:
        return ConnackCode.SERVER_UNAVAILABLE
    return ConnackCode.NOT_AUTHORIZED
