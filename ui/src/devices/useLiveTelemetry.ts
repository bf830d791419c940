// The device's live stream feeding the query cache: its latest values and every raw chart series get the
// new readings; aggregated series are fetched again (at most every few seconds). Events are batched per
// animation frame, so hundreds of messages a second cost one cache update and one redraw per frame.
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import type { SeriesData } from "../lib/Chart";
import { useEventStream, type LiveStatus } from "../lib/live";
import { devicePath, deviceKeys, type LatestValues, type LiveMessage } from "./queries";
import { RANGES, appendPoints, isRangeName } from "./series";

const AGGREGATE_REFRESH_MS = 5_000;
// A hidden tab runs no animation frames: past this many waiting readings the oldest are dropped.
const MAX_PENDING = 50_000;

type Reading = LiveMessage["readings"][number];

function applyLatest(client: QueryClient, deviceId: string, readings: Reading[]): void {
  client.setQueryData<LatestValues>(deviceKeys.latest(deviceId), (old) => {
    const values = { ...(old?.values ?? {}) };
    for (const r of readings) {
      const current = values[r.key];
      if (current === undefined || Date.parse(current.ts) <= Date.parse(r.ts)) values[r.key] = { ts: r.ts, value: r.value };
    }
    return { device_id: deviceId, values };
  });
}

/** Appends to raw series; says whether an aggregated series of a key that changed is cached. */
function applySeries(client: QueryClient, deviceId: string, readings: Reading[]): boolean {
  const byKey = new Map<string, [number, number][]>();
  for (const r of readings) {
    if (typeof r.value !== "number") continue;
    const points = byKey.get(r.key) ?? [];
    points.push([Date.parse(r.ts), r.value]);
    byKey.set(r.key, points);
  }
  let aggregated = false;
  const prefix = [...deviceKeys.one(deviceId), "series"];
  for (const [queryKey, data] of client.getQueriesData<SeriesData>({ queryKey: prefix })) {
    const [, , , , key, range, agg] = queryKey as readonly string[];
    const points = key === undefined ? undefined : byKey.get(key);
    if (data === undefined || points === undefined || range === undefined || !isRangeName(range)) continue;
    if (agg === "raw") client.setQueryData<SeriesData>(queryKey, appendPoints(data, points, RANGES[range].ms));
    else aggregated = true;
  }
  return aggregated;
}

export function useLiveTelemetry(deviceId: string, enabled: boolean): LiveStatus {
  const client = useQueryClient();
  const pending = useRef<Reading[]>([]);
  const frame = useRef(0);
  const refresh = useRef<ReturnType<typeof setTimeout> | null>(null);
  const resync = useRef(true);

  useEffect(
    () => () => {
      cancelAnimationFrame(frame.current);
      frame.current = 0;
      pending.current = [];
      if (refresh.current !== null) clearTimeout(refresh.current);
      refresh.current = null;
    },
    [deviceId],
  );

  const status = useEventStream<LiveMessage>(enabled ? devicePath(deviceId, "/live") : null, "telemetry", (message) => {
    if (message.device_id !== deviceId) return;
    pending.current.push(...message.readings);
    if (pending.current.length > MAX_PENDING) pending.current.splice(0, pending.current.length - MAX_PENDING);
    if (frame.current !== 0) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const readings = pending.current;
      pending.current = [];
      if (readings.length === 0) return;
      // The hub subscribes a stream a moment after it answers: what was stored in between is only in a
      // fresh read, made once the first event proves the stream is following.
      if (resync.current) {
        resync.current = false;
        void client.invalidateQueries({ queryKey: deviceKeys.latest(deviceId) });
        void client.invalidateQueries({ queryKey: [...deviceKeys.one(deviceId), "series"] });
      }
      applyLatest(client, deviceId, readings);
      if (applySeries(client, deviceId, readings) && refresh.current === null) {
        refresh.current = setTimeout(() => {
          refresh.current = null;
          void client.invalidateQueries({
            queryKey: [...deviceKeys.one(deviceId), "series"],
            predicate: (query) => query.queryKey[6] !== "raw",
          });
        }, AGGREGATE_REFRESH_MS);
      }
    });
  });
  useEffect(() => {
    if (status !== "open") resync.current = true;
  }, [status]);
  return status;
}
