"""Device profiles: what a kind of device sends (keys with type, unit and range) and the labels it starts with.

A device or gateway names at most one profile of its tenant. With ``strict`` a reading of an undeclared key,
of the wrong type or outside its range is refused like any bad payload; otherwise it is stored and counted
as flagged (``fieldhub_ingest_flagged_total``), so an operator sees a profile drift before turning it strict.
"""

from __future__ import annotations

import enum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.devices import MAX_LABELS, LabelKey, LabelValue, Name
from contracts.ids import Identifier
from contracts.telemetry import SensorKey

#: Most keys a profile declares.
MAX_PROFILE_KEYS = 256
Description = Annotated[str, StringConstraints(max_length=500)]
Unit = Annotated[str, StringConstraints(max_length=32)]


class ValueType(enum.StrEnum):
    """The type a key's values must have (JSON numbers, booleans or strings)."""

    NUMBER = "number"
    BOOLEAN = "boolean"
    STRING = "string"


class KeySpec(BaseModel):
    """One telemetry key a profile declares."""

    model_config = ConfigDict(extra="forbid")

    type: ValueType = ValueType.NUMBER
    unit: Unit | None = None
    min: float | None = Field(default=None, description="Lowest plausible value (numbers only)")
    max: float | None = Field(default=None, description="Highest plausible value (numbers only)")
    description: Description | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if (self.min is not None or self.max is not None) and self.type is not ValueType.NUMBER:
            raise ValueError("min and max apply to numbers only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not be above max")
        return self


ProfileKeys = Annotated[dict[SensorKey, KeySpec], Field(max_length=MAX_PROFILE_KEYS)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_LABELS)]


class ProfileCreate(BaseModel):
    """Body of ``POST /api/v1/profiles``."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier | None = Field(default=None, description="Unique in the tenant; p-<hex> when absent")
    name: Name
    description: Description = ""
    keys: ProfileKeys = Field(default_factory=dict, description="Telemetry keys the devices send")
    labels: Labels = Field(default_factory=dict, description="Labels a device created with this profile starts with")
    strict: bool = Field(default=False, description="Refuse readings of undeclared keys, wrong types or out of range")


class ProfilePatch(BaseModel):
    """Body of ``PATCH /api/v1/profiles/{id}``: only the fields given change (``keys`` and ``labels`` whole)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    keys: ProfileKeys | None = None
    labels: Labels | None = None
    strict: bool | None = None


class Profile(BaseModel):
    """A device profile of a tenant."""

    id: Identifier
    tenant: Identifier
    name: Name
    description: str = ""
    keys: dict[str, KeySpec] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    strict: bool = False
    created: int = Field(description="Epoch ms")
    updated: int = Field(description="Epoch ms")
