"""Identifier rules shared by devices, tenants, sensors and commands.

Identifiers end up inside MQTT topics, URLs and stream subjects, so they may not
contain topic separators, wildcards, a leading ``$`` or whitespace.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

from contracts.errors import ErrorCode, FieldhubError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)

#: A device, tenant or command identifier.
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class InvalidIdentifier(FieldhubError, ValueError):
    """Raised when a string is not a valid identifier (a ValueError too, as pydantic validators expect)."""

    code = ErrorCode.INVALID_REQUEST


def is_valid_id(value: str) -> bool:
    """Tell whether ``value`` may be used as an id inside a topic or URL."""
    return _ID_RE.fullmatch(value) is not None


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` unchanged or raise :class:`InvalidIdentifier` naming ``what``."""
    if not is_valid_id(value):
        raise InvalidIdentifier(
            f"invalid {what} {value[:80]!r}: 1-64 characters of letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return value
