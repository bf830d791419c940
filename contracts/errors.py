"""The one error hierarchy's base and the stable codes shared by the HTTP API, MQTT ingest, the agent and the CLI."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Codes that appear in JSON error bodies as ``{"error": {"code", "message"}}``."""

    INVALID_REQUEST = "invalid_request"
    #: An uploaded app package was refused; ``details`` lists every problem as ``{"path", "problem"}``.
    INVALID_PACKAGE = "invalid_package"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    DEVICE_OFFLINE = "device_offline"
    COMMAND_TIMEOUT = "command_timeout"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    #: Too many failed sign-ins for a username or from an address: ``Retry-After`` says when to try again.
    TOO_MANY_REQUESTS = "too_many_requests"
    UNAVAILABLE = "unavailable"
    #: The directory (LDAP) did not answer a sign-in in time; local users still sign in.
    DIRECTORY_UNAVAILABLE = "directory_unavailable"
    INTERNAL = "internal"


class RejectReason(enum.StrEnum):
    """Why ingest refused a message; each is counted separately."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    MALFORMED_JSON = "malformed_json"
    SCHEMA = "schema"
    TOO_MANY_VALUES = "too_many_values"
    TS_IN_FUTURE = "ts_in_future"
    TS_OUT_OF_RANGE = "ts_out_of_range"
    UNKNOWN_TOPIC = "unknown_topic"
    #: The device's profile is strict and does not declare a key of the message.
    UNDECLARED_KEY = "undeclared_key"
    #: The device's profile is strict and declares a key of the message with another type.
    WRONG_TYPE = "wrong_type"
    #: The device's profile is strict and a value of the message is outside its key's range.
    OUT_OF_RANGE = "out_of_range"
    #: Valid on its face, but handling it failed every time (a poison message): refused so others go on.
    UNPROCESSABLE = "unprocessable"


class AuthRefusal(enum.StrEnum):
    """Why the broker refused a connection, publish or subscription."""

    NO_CREDENTIALS = "no_credentials"
    UNKNOWN_DEVICE = "unknown_device"
    BAD_PASSWORD = "bad_password"  # noqa: S105 - a reason label, not a password
    DISABLED = "disabled"
    CLIENT_ID = "client_id"
    ACL_PUBLISH = "acl_publish"
    ACL_SUBSCRIBE = "acl_subscribe"
    #: A managed Mosquitto refused the connection; it does not say which of the reasons above applied.
    BROKER = "broker"


class ConnectionDrop(enum.StrEnum):
    """Why the embedded broker closed a connection before or without an answer; each is counted."""

    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_FROM_ADDRESS = "too_many_from_address"
    CONNECT_TIMEOUT = "connect_timeout"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    PROTOCOL_ERROR = "protocol_error"


class FieldhubError(Exception):
    """Base of every error Fieldhub raises on purpose, in every package (hub, cloud, agent, drivers).

    Attributes:
        code: the stable code put in API answers (``cloud/api/errors.py`` maps it to an HTTP status).
        reason: a finer, counted cause where there is one (a :class:`RejectReason` or :class:`AuthRefusal`).
        message: a human explanation that never contains a secret.
        retryable: whether the same operation may succeed later (a server that is away), rather than fail
            every time; only such an error leaves an MQTT message unacknowledged, to be delivered again.
    """

    code: ErrorCode = ErrorCode.INTERNAL
    retryable: bool = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
