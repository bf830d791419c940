"""When a deployment runs: its ``schedule``, as ``POST /api/v1/deployments`` takes it and the hub stores it.

Four kinds, told apart by ``kind``:

- ``{"kind": "now"}`` (the default): placed at once and run until deleted;
- ``{"kind": "at", "start"}``: placed at ``start`` and run until deleted;
- ``{"kind": "window", "start", "end"}``: run from ``start`` to ``end``, then ``completed``;
- ``{"kind": "cron", "cron", "duration_s", "timezone"?}``: a run of ``duration_s`` seconds at every time the cron
  expression names, read in ``timezone`` (an IANA name, default ``UTC``). Five fields (minute, hour, day of month,
  month, day of week), or six with a leading seconds field.

Times are RFC 3339 with a zone (``2026-11-22T10:00:00Z``, ``2026-11-22T11:00:00+01:00``). This module checks what
a schedule says on its own (shape, ``end`` after ``start``, the number of cron fields, the form of a zone name);
what needs the clock, the zone database or the cron library (a start in the past, an unknown zone, a cron field
out of range) is checked by the hub (:mod:`hub.deploy.schedules`), which answers ``422`` naming the problem.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, StringConstraints, model_validator

#: The longest run a cron schedule may ask for: a year.
MAX_DURATION_S = 366 * 24 * 3600
#: An IANA time zone name as the zone database spells them (``Europe/Riga``, ``UTC``, ``Etc/GMT+2``).
TimeZoneName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*$", max_length=64)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NowSchedule(_Strict):
    """Run at once, until deleted."""

    kind: Literal["now"] = "now"


class AtSchedule(_Strict):
    """Run from ``start`` until deleted."""

    kind: Literal["at"]
    start: AwareDatetime = Field(description="RFC 3339 with a zone; not in the past")


class WindowSchedule(_Strict):
    """Run from ``start`` to ``end``, then the deployment is ``completed``."""

    kind: Literal["window"]
    start: AwareDatetime = Field(description="RFC 3339 with a zone; not in the past")
    end: AwareDatetime = Field(description="RFC 3339 with a zone; after start")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class CronSchedule(_Strict):
    """A run of ``duration_s`` at every time ``cron`` names, in ``timezone``."""

    kind: Literal["cron"]
    cron: str = Field(
        max_length=200,
        description="minute hour day month weekday (e.g. '*/5 * * * *'), or six fields with seconds first",
        examples=["0 8 * * MON-FRI", "*/10 * * * * *"],
    )
    duration_s: int = Field(ge=1, le=MAX_DURATION_S, description="How long each run lasts, in seconds")
    timezone: TimeZoneName = Field(default="UTC", description="IANA time zone the expression is read in")

    @model_validator(mode="after")
    def _fields(self) -> Self:
        if len(self.cron.split()) not in (5, 6):
            raise ValueError(
                "cron must have 5 fields (minute hour day month weekday) or 6 (seconds first), "
                f"not {len(self.cron.split())}"
            )
        return self


Schedule = Annotated[NowSchedule | AtSchedule | WindowSchedule | CronSchedule, Field(discriminator="kind")]


class DeploymentSchedule(RootModel[Schedule]):
    """A deployment's schedule (``fieldhub contracts export deployment-schedule``)."""


def parse_schedule(text: str | None) -> NowSchedule | AtSchedule | WindowSchedule | CronSchedule:
    """The schedule stored as JSON ``text``; ``None`` (nothing stored) is :class:`NowSchedule`."""
    if text is None:
        return NowSchedule()
    return DeploymentSchedule.model_validate_json(text).root
