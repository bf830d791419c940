"""Platform events: listed with filters, and followed live as Server-Sent Events.

A tenant's users see their tenant's events; platform admins every tenant's, or one's with ``?tenant=``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from cloud.api.apps import TenantQuery
from cloud.api.deps import PrincipalDep, ServicesDep, get_stream_session, target_tenant
from cloud.api.params import parse_window
from cloud.api.sse import event_stream, watched
from cloud.identity.principals import Principal
from cloud.identity.tokens import TokenSession
from contracts.events import KIND_FILTER_PATTERN, Event
from contracts.ids import ID_PATTERN
from hub.store.events import EventQuery

router = APIRouter(prefix="/api/v1/events", tags=["events"])

_TIME = "RFC 3339 or epoch ms, 2000-01-01 to 9999-12-31"
#: Event ids are SQLite integers: a larger ``after`` is a 422, not an overflow.
MAX_EVENT_ID = 2**63 - 1


class EventList(BaseModel):
    items: list[Event]


class EventFilters:
    """The filters both routes take."""

    def __init__(
        self,
        *,
        tenant: TenantQuery = None,
        deployment: Annotated[str | None, Query(max_length=64, description="Deployment id")] = None,
        node: Annotated[str | None, Query(pattern=ID_PATTERN, description="Node (device) id")] = None,
        kind: Annotated[
            str | None, Query(pattern=KIND_FILTER_PATTERN, description="A kind (node.dead), or a family (node.)")
        ] = None,
        start: Annotated[str | None, Query(description=f"{_TIME}, inclusive")] = None,
        end: Annotated[str | None, Query(description=f"{_TIME}, exclusive")] = None,
    ) -> None:
        self.tenant = tenant
        self.deployment = deployment
        self.node = node
        self.kind = kind
        self.start, self.end = parse_window(start, end)

    def query(self, principal: Principal, limit: int) -> EventQuery:
        scope = self.tenant if principal.tenant is None else target_tenant(principal, self.tenant)
        return EventQuery(
            tenant=scope,
            deployment=self.deployment,
            node=self.node,
            kind=self.kind,
            start=self.start,
            end=self.end,
            limit=limit,
        )


FiltersDep = Annotated[EventFilters, Depends()]


@router.get("", response_model=EventList)
async def list_events(
    filters: FiltersDep,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventList:
    """Events newest first: node health, instances, deployments and schedules (docs/api.md#events)."""
    return EventList(items=await services.events.query(filters.query(principal, limit)))


def _frame(event: Event) -> bytes:
    return f"id: {event.id}\nevent: event\ndata: ".encode() + event.model_dump_json().encode() + b"\n\n"


def resume_after(
    after: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Start after this event id (default: from now on)")
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(alias="Last-Event-ID", ge=0, le=MAX_EVENT_ID, description="Resume after this event (sent on reconnect)"),
    ] = None,
) -> int | None:
    """Where an event stream starts: after ``Last-Event-ID`` (a reconnect), else ``after``, else from now on."""
    return last_event_id if last_event_id is not None else after


#: The event id a stream resumes after (None: from now on).
ResumeDep = Annotated[int | None, Depends(resume_after)]


@router.get("/stream", response_class=StreamingResponse)
async def stream_events(
    filters: FiltersDep,
    services: ServicesDep,
    session: Annotated[TokenSession, Depends(get_stream_session)],
    resume: ResumeDep,
) -> StreamingResponse:
    """Server-Sent Events: one ``event`` frame (``id:`` the event's id) per matching event stored from now on, or
    after ``Last-Event-ID`` (else ``after``). Ends with an ``end`` event (``{"reason": "token_expired" | "revoked" |
    "unavailable"}``) once its token expires or is revoked."""
    follow = await services.events.follow(filters.query(session.principal, 1), after=resume)
    return event_stream(watched(services.tokens, session, follow.next, _frame))
