"""Copying telemetry (``fieldhub store migrate``): every series' points, with the idents that tell them apart."""

from __future__ import annotations

from collections.abc import AsyncIterator

from contracts.devices import Device
from contracts.telemetry import Reading, Value, to_epoch_ms
from hub.store.columns import HIGHEST, Columns
from hub.store.migration.context import Run, all_devices
from hub.store.mongo import rollups
from hub.store.telemetry import ROLLUP_SPANS, DeviceReadings, RangeQuery, TelemetryStore

#: A point as :meth:`TelemetryStore.identified_points` gives it, ``(ts, ident, value)``; a series' copy stands at
#: the ``(ts, ident)`` of the last point it copied.
Point = tuple[int, int, Value]


async def copy_telemetry(run: Run) -> AsyncIterator[int]:
    """Every series' points in (time, ident) order, through the target's ``write_points``, which skips points it
    holds and builds the rollups and latest values from those it stores. Progress is kept per series: the time and
    ident of its last point copied. The rollups of times whose raw points retention removed are copied as they
    are."""
    async for page in all_devices(run.source, run.batch):
        for device in page:
            for key in sorted(await run.source.telemetry.latest(device.id)):
                async for copied in _series(run, device, key):
                    yield copied


async def _series(run: Run, device: Device, key: str) -> AsyncIterator[int]:
    """One series' points after those copied before. They are written as received when the device was last seen,
    which brings its copy's last seen (raised by ``write_points``) up to the source's; each keeps its ident as
    its ``seq``, so the copy tells apart points of one millisecond and recognizes a redelivery as the source did."""
    concern = f"telemetry:{device.id}/{key}"
    done = await run.progress.after(concern)
    after = None if done is None else (int(done[0]), int(done[1]))
    if not run.dry:
        await _repair_rollups(run, device.id, key, after)
    async for points in _pages(run.source.telemetry, device.id, key, run.batch, after=after):
        if not run.dry:
            readings = [Reading(key, ts, value, point_ident) for ts, point_ident, value in points]
            received = points[-1][0] if device.last_seen is None else to_epoch_ms(device.last_seen)
            await run.target.telemetry.write_points(
                [DeviceReadings(device.id, device.tenant, received, readings)], outbox=False
            )
            await run.progress.advance(concern, list(points[-1][:2]), len(points))
        yield len(points)
    if not run.dry:
        await _copy_rollups_of_removed_points(run, device.id, key)


async def _copy_rollups_of_removed_points(run: Run, device_id: str, key: str) -> None:
    """Copy a series' rollups of times before its oldest raw point, whose points retention removed (the target
    builds its rollups from the raw points it gets). That of the span holding the oldest point is copied too when
    retention removed part of that span's points (the source's counts more points than the span holds); it is old,
    so its points are all copied by now and the hub adds none."""
    source = run.source.telemetry
    oldest = await source.identified_points(RangeQuery(device_id, key, limit=1))
    for span in ROLLUP_SPANS:
        boundary = None if not oldest else oldest[0][0] // span * span
        rows = await source.rollups_until(device_id, key, span, HIGHEST if boundary is None else boundary + span)
        if rows and rows[-1][0] == boundary:
            held = RangeQuery(device_id, key, start=boundary, end=boundary + span, limit=rows[-1][1].n + 1)
            if len(await source.identified_points(held)) >= rows[-1][1].n:  # whole: the target built the same
                rows.pop()
        await rollups.replace(run.target_db, device_id, key, span, rows)


async def _pages(
    store: TelemetryStore,
    device_id: str,
    key: str,
    batch: int,
    *,
    after: tuple[int, int] | None = None,
    start: int | None = None,
    end: int | None = None,
) -> AsyncIterator[list[Point]]:
    """The points of a series after ``after`` (or from ``start``) and before ``end``, a page of about ``batch``
    at a time."""
    limit = batch
    while True:
        query = RangeQuery(device_id, key, start=start if after is None else after[0], end=end, limit=limit)
        page = await store.identified_points(query)
        fresh = page if after is None else [point for point in page if point[:2] > after]
        if fresh:
            after, limit = (fresh[-1][0], fresh[-1][1]), batch
            yield fresh
        elif len(page) < limit:
            return
        else:
            limit *= 2  # one millisecond holds more points than a page: read it whole


async def _repair_rollups(run: Run, device_id: str, key: str, after: tuple[int, int] | None) -> None:
    """Rebuild a series' rollups where the target holds points after ``after``: a run killed while writing them may
    have stored them without adding them to the rollups, and writing them again adds nothing."""
    target = run.target.telemetry
    found = await target.identified_points(
        RangeQuery(device_id, key, start=None if after is None else after[0], limit=1, descending=True)
    )
    if not found or (after is not None and found[0][:2] <= after):
        return
    if after is None:
        after = (await target.identified_points(RangeQuery(device_id, key, limit=1)))[0][:2]
    span = max(ROLLUP_SPANS)
    points = Columns()
    begin, end = after[0] // span * span, (found[0][0] // span + 1) * span
    async for page in _pages(target, device_id, key, run.batch, start=begin, end=end):
        for ts, point_ident, value in page:
            points.append(ts, point_ident, value)
    await rollups.rebuild(run.target_db, device_id, key, points)
