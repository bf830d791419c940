"""The hub's and the cloud's errors, under the one base of :mod:`contracts.errors`.

Adapters translate library errors into these (``raise StoreUnavailable(...) from exc``).
"""

from __future__ import annotations

from typing import Any

from contracts.errors import ErrorCode, FieldhubError

__all__ = ["FieldhubError"]


class NotFound(FieldhubError):
    """The named object does not exist (or is not visible to the caller)."""

    code = ErrorCode.NOT_FOUND

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class Conflict(FieldhubError):
    """The object already exists or the change clashes with current state."""

    code = ErrorCode.CONFLICT


class NotEmpty(Conflict):
    """The object still holds others and cannot be deleted; ``left`` counts them by kind (also in ``details``)."""

    def __init__(self, kind: str, ident: str, left: dict[str, int]) -> None:
        listed = ", ".join(f"{n} {what}" for what, n in left.items())
        super().__init__(f"{kind} {ident!r} still has {listed}; delete them first")
        self.left = left
        self.details = [{"kind": what, "count": n} for what, n in left.items()]


class InvalidInput(FieldhubError):
    """Input that passed the schema but breaks a rule."""

    code = ErrorCode.INVALID_REQUEST


class InvalidDocument(InvalidInput):
    """A document refused by the schema it must follow; ``details`` holds every problem (``loc`` and ``msg``)."""

    def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.details = details


class Unauthorized(FieldhubError):
    """Missing or wrong credentials; ``challenge`` is the scheme the answer's ``WWW-Authenticate`` names."""

    code = ErrorCode.UNAUTHORIZED

    def __init__(self, message: str, *, challenge: str = "Bearer") -> None:
        super().__init__(message)
        self.challenge = challenge


class Forbidden(FieldhubError):
    """Authenticated, but not allowed to do this."""

    code = ErrorCode.FORBIDDEN


class TooManyAttempts(FieldhubError):
    """Too many failed sign-ins lately; ``retry_after_s`` is when the cool-down ends (the answer's ``Retry-After``).

    The message is the same whether the username exists or not.
    """

    code = ErrorCode.TOO_MANY_REQUESTS

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many failed sign-ins; try again later")
        self.retry_after_s = retry_after_s


class DeviceOffline(FieldhubError):
    """A command was sent to a device that is not connected."""

    code = ErrorCode.DEVICE_OFFLINE


class CommandTimeout(FieldhubError):
    """The device did not answer a command in time."""

    code = ErrorCode.COMMAND_TIMEOUT


class StoreUnavailable(FieldhubError):
    """The store cannot be reached or failed; the operation may be retried."""

    code = ErrorCode.UNAVAILABLE
    retryable = True


class DirectoryUnavailable(FieldhubError):
    """The directory (LDAP) could not be reached or did not answer in time; sign-in may be retried."""

    code = ErrorCode.DIRECTORY_UNAVAILABLE
    retryable = True


class SinkUnavailable(FieldhubError):
    """A stream did not take or acknowledge a batch; ingest retries it, never drops it."""

    code = ErrorCode.UNAVAILABLE
    retryable = True


class ConfigError(FieldhubError):
    """A setting or config file is wrong; raised before anything starts."""

    code = ErrorCode.INVALID_REQUEST


class BrokerUnavailable(FieldhubError):
    """The external MQTT broker did not take a change (accounts, ACLs); nothing was changed in the hub."""

    code = ErrorCode.UNAVAILABLE
    retryable = True


class DeliveryFailed(FieldhubError):
    """A notification channel did not take a notification (it is tried again); the message holds no secret."""

    code = ErrorCode.UNAVAILABLE
    retryable = True
