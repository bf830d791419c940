"""Telemetry queries, latest values and the live stream (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from cloud.api.deps import DeviceDep, DeviceId, ServicesDep, get_stream_session, visible_device
from cloud.api.params import parse_interval, parse_time
from cloud.identity.tokens import SessionWatch, TokenSession
from contracts.api import LatestValue, LatestValues, TelemetryPoint, TelemetrySeries
from contracts.telemetry import SENSOR_KEY_PATTERN, device_seq, to_rfc3339
from hub.errors import InvalidInput
from hub.store.telemetry import AggFn, AggregateQuery, Message, RangeQuery

router = APIRouter(prefix="/api/v1/devices", tags=["telemetry"])
KEEPALIVE_S = 15.0


@router.get("/{device_id}/telemetry", response_model=TelemetrySeries)
async def telemetry(
    *,
    device: DeviceDep,
    services: ServicesDep,
    key: Annotated[str, Query(pattern=SENSOR_KEY_PATTERN)],
    start: Annotated[str | None, Query(description="RFC 3339 or epoch ms, 2000-01-01 to 9999-12-31, inclusive")] = None,
    end: Annotated[str | None, Query(description="RFC 3339 or epoch ms, 2000-01-01 to 9999-12-31, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    order: Literal["asc", "desc"] = "asc",
    agg: AggFn | None = None,
    interval: Annotated[str | None, Query(description="Bucket width: 500ms, 60s, 5m, 1h, 1d")] = None,
) -> TelemetrySeries:
    """Raw points, or with ``agg`` and ``interval`` epoch-aligned buckets (``ts`` = bucket start)."""
    range_query = RangeQuery(
        device_id=device.id,
        key=key,
        start=parse_time(start, "start"),
        end=parse_time(end, "end"),
        limit=limit,
        descending=order == "desc",
    )
    if range_query.start is not None and range_query.end is not None and range_query.start >= range_query.end:
        raise InvalidInput("start must be before end")
    if agg is None:
        if interval is not None:
            raise InvalidInput("interval needs agg")
        rows = await services.store.telemetry.query_range(range_query)
        points = [TelemetryPoint(ts=to_rfc3339(ts), value=value) for ts, value in rows]
    else:
        if interval is None:
            raise InvalidInput("agg needs interval (e.g. interval=60s)")
        buckets = await services.store.telemetry.query_aggregate(
            AggregateQuery(range_query, agg, parse_interval(interval))
        )
        points = [TelemetryPoint(ts=to_rfc3339(ts), value=value) for ts, value in buckets]
    return TelemetrySeries(
        device_id=device.id, key=key, agg=agg.value if agg else None, interval=interval, points=points
    )


@router.get("/{device_id}/latest", response_model=LatestValues)
async def latest(device: DeviceDep, services: ServicesDep) -> LatestValues:
    values = await services.store.telemetry.latest(device.id)
    return LatestValues(
        device_id=device.id,
        values={k: LatestValue(ts=to_rfc3339(ts), value=v) for k, (ts, v) in values.items()},
    )


def _event(item: Message) -> bytes:
    body = {
        "device_id": item.device_id,
        "readings": [
            {"key": r.key, "ts": to_rfc3339(r.ts), "value": r.value, "seq": device_seq(r.seq)} for r in item.readings
        ],
    }
    return b"event: telemetry\ndata: " + orjson.dumps(body) + b"\n\n"


def _end(reason: str) -> bytes:
    return b"event: end\ndata: " + orjson.dumps({"reason": reason}) + b"\n\n"


@router.get("/{device_id}/live", response_class=StreamingResponse)
async def live(
    device_id: DeviceId, services: ServicesDep, session: Annotated[TokenSession, Depends(get_stream_session)]
) -> StreamingResponse:
    """Server-Sent Events: one ``telemetry`` event per stored message of the device.

    The stream ends with an ``end`` event (``{"reason": "token_expired" | "revoked" | "unavailable"}``)
    once its token expires or is revoked, checked before every event and keep-alive.
    """
    device = await visible_device(device_id, session.principal, services)

    async def events() -> AsyncIterator[bytes]:
        watch = SessionWatch(services.tokens, session)
        async with services.live.subscribe(device.id) as queue:
            yield b": connected\n\n"
            keepalive_at = time.monotonic() + KEEPALIVE_S
            while True:
                item = None
                try:
                    async with asyncio.timeout(min(keepalive_at - time.monotonic(), watch.due_in())):
                        item = await queue.get()
                except TimeoutError:
                    pass
                reason = await watch.reason_to_end()
                if reason is not None:
                    yield _end(reason)
                    return
                if item is not None:
                    watch.sent()
                    yield _event(item)
                elif time.monotonic() >= keepalive_at:
                    yield b": keepalive\n\n"
                else:
                    continue  # woken for a check of the session only
                keepalive_at = time.monotonic() + KEEPALIVE_S

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
