"""Alarms: listed with filters, acknowledged and cleared by hand, followed live as Server-Sent Events.

A tenant's users see and handle their tenant's alarms; platform admins every tenant's, or one's with
``?tenant=``. Another tenant's alarm answers 404, as one that does not exist (docs/api.md#alarms).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from cloud.api.apps import TenantQuery
from cloud.api.deps import PrincipalDep, ServicesDep, get_stream_session, tenant_scope
from cloud.api.events import ResumeDep
from cloud.api.params import Offset, parse_window
from cloud.api.sse import event_stream, watched
from cloud.identity.principals import Principal
from cloud.identity.tokens import TokenSession
from contracts.alarms import Alarm, AlarmAck, AlarmState, Severity
from contracts.api import Page
from contracts.events import Event
from contracts.ids import ID_PATTERN
from hub.events.service import Follow
from hub.store.alarms import AlarmQuery
from hub.store.events import EventQuery

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])

AlarmId = Annotated[str, Path(pattern=r"^al-[0-9a-f]{16}$", description="Alarm id")]
_TIME = "RFC 3339 or epoch ms, 2000-01-01 to 9999-12-31"


class AlarmPage(Page[Alarm]):
    """A page of alarms, newest raised first (without their history)."""


class AlarmFilters:
    """The filters of the list and the stream: each given one must hold."""

    def __init__(
        self,
        *,
        tenant: TenantQuery = None,
        state: Annotated[list[AlarmState] | None, Query(description="Any of these states (repeatable)")] = None,
        severity: Annotated[list[Severity] | None, Query(description="Any of these severities (repeatable)")] = None,
        device: Annotated[str | None, Query(pattern=ID_PATTERN, description="Alarms of this device")] = None,
    ) -> None:
        self.tenant = tenant
        self.states = tuple(state or ())
        self.severities = tuple(severity or ())
        self.device = device

    def scope(self, principal: Principal) -> str | None:
        return tenant_scope(principal, self.tenant)

    def holds(self, alarm: Alarm) -> bool:
        return (not self.states or alarm.state in self.states) and (
            not self.severities or alarm.severity in self.severities
        )


FiltersDep = Annotated[AlarmFilters, Depends()]


@router.get("", response_model=AlarmPage, response_model_exclude={"items": {"__all__": {"history"}}})
async def list_alarms(
    *,
    filters: FiltersDep,
    principal: PrincipalDep,
    services: ServicesDep,
    rule: Annotated[str | None, Query(pattern=ID_PATTERN, description="Alarms of this rule")] = None,
    start: Annotated[str | None, Query(description=f"Raised from this time: {_TIME}, inclusive")] = None,
    end: Annotated[str | None, Query(description=f"Raised before this time: {_TIME}, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> AlarmPage:
    """Alarms newest raised first, without their history (``GET /alarms/{id}`` has it)."""
    start_ms, end_ms = parse_window(start, end)
    query = AlarmQuery(
        tenant=filters.scope(principal),
        states=filters.states,
        severities=filters.severities,
        device=filters.device,
        rule=rule,
        start=start_ms,
        end=end_ms,
        limit=limit,
        offset=offset,
    )
    items, total = await services.alarms.query(query)
    return AlarmPage(items=items, total=total, limit=limit, offset=offset)


def _frame(event: Event) -> bytes:
    alarm = {**event.data["alarm"], "kind": event.kind}
    return f"id: {event.id}\nevent: alarm\ndata: ".encode() + orjson.dumps(alarm) + b"\n\n"


def _matching(follow: Follow, filters: AlarmFilters) -> Callable[[float], Awaitable[list[Event]]]:
    """The batches of ``follow`` with only the events whose alarm passes ``filters`` (states and severities)."""

    async def next_batch(wait_s: float) -> list[Event]:
        return [e for e in await follow.next(wait_s) if filters.holds(Alarm.model_validate(e.data["alarm"]))]

    return next_batch


@router.get("/stream", response_class=StreamingResponse)
async def stream_alarms(
    filters: FiltersDep,
    services: ServicesDep,
    session: Annotated[TokenSession, Depends(get_stream_session)],
    resume: ResumeDep,
) -> StreamingResponse:
    """Server-Sent Events: one ``alarm`` frame (``id:`` the event's id) per change of a matching alarm from now
    on, or after ``Last-Event-ID`` (else ``after``): the alarm without its history and ``kind``, the change
    (``alarm.raised``, ``alarm.acknowledged``, ``alarm.cleared``). Ends as ``GET /events/stream`` does."""
    query = EventQuery(tenant=filters.scope(session.principal), node=filters.device, kind="alarm.", limit=1)
    follow = await services.events.follow(query, after=resume)
    return event_stream(watched(services.tokens, session, _matching(follow, filters), _frame))


@router.get("/{alarm_id}", response_model=Alarm)
async def get_alarm(
    alarm_id: AlarmId, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Alarm:
    """One alarm with its history (its first and newest changes)."""
    return await services.alarms.get(alarm_id, tenant_scope(principal, tenant))


class ByHand:
    """Who acts on an alarm (the caller, by name), on which one, with what note."""

    def __init__(
        self, alarm_id: AlarmId, principal: PrincipalDep, body: AlarmAck | None = None, tenant: TenantQuery = None
    ) -> None:
        self.alarm_id = alarm_id
        self.scope = tenant_scope(principal, tenant)
        self.by = principal.username
        self.note = body.note if body is not None else None


ByHandDep = Annotated[ByHand, Depends()]


@router.post("/{alarm_id}/ack", response_model=Alarm)
async def acknowledge_alarm(act: ByHandDep, services: ServicesDep) -> Alarm:
    """Someone saw the alarm (recorded as the caller's name); 409 unless it is active."""
    return await services.alarms.acknowledge(act.alarm_id, act.scope, act.by, act.note)


@router.post("/{alarm_id}/clear", response_model=Alarm)
async def clear_alarm(act: ByHandDep, services: ServicesDep) -> Alarm:
    """Clear the alarm by hand (recorded as the caller's name); 409 once it is cleared."""
    return await services.alarms.clear(act.alarm_id, act.scope, act.by, act.note)
