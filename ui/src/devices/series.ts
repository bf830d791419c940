// Chart series of a device's telemetry: ranges, aggregation intervals, loading and appending live points.
import type { SeriesData } from "../lib/Chart";
import { api } from "../lib/client";
import { devicePath, type Scalar, type TelemetrySeries } from "./queries";

export const RANGES = {
  "15m": { label: "Last 15 minutes", ms: 15 * 60_000 },
  "1h": { label: "Last hour", ms: 3_600_000 },
  "24h": { label: "Last 24 hours", ms: 86_400_000 },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000 },
} as const;
export type RangeName = keyof typeof RANGES;

export const AGGREGATIONS = { raw: "Raw points", avg: "Average", min: "Minimum", max: "Maximum" } as const;
export type Aggregation = keyof typeof AGGREGATIONS;

/** Most points a raw chart loads and keeps (the newest): enough for a dense hour, light enough to redraw. */
export const MAX_RAW_POINTS = 5_000;
/** Aggregated charts ask for buckets so that a range has at most about this many. */
const TARGET_BUCKETS = 500;
const STEPS: [number, string][] = [
  [1_000, "1s"], [2_000, "2s"], [5_000, "5s"], [10_000, "10s"], [15_000, "15s"], [30_000, "30s"],
  [60_000, "1m"], [120_000, "2m"], [300_000, "5m"], [600_000, "10m"], [900_000, "15m"], [1_800_000, "30m"],
  [3_600_000, "1h"], [7_200_000, "2h"], [21_600_000, "6h"], [43_200_000, "12h"], [86_400_000, "1d"],
];

/** The smallest round bucket width giving at most ~500 buckets over `rangeMs` (e.g. 1 h -> 10s). */
export function intervalFor(rangeMs: number): string {
  const wanted = rangeMs / TARGET_BUCKETS;
  const step = STEPS.find(([ms]) => ms >= wanted);
  return step === undefined ? "1d" : step[1];
}

export function isRangeName(value: string | null): value is RangeName {
  return value !== null && Object.hasOwn(RANGES, value);
}

export function isAggregation(value: string | null): value is Aggregation {
  return value !== null && Object.hasOwn(AGGREGATIONS, value);
}

function numeric(value: Scalar): number | null {
  return typeof value === "number" ? value : null;
}

export async function loadSeries(
  deviceId: string,
  key: string,
  range: RangeName,
  agg: Aggregation,
  signal: AbortSignal,
): Promise<SeriesData> {
  const start = Date.now() - RANGES[range].ms;
  const query =
    agg === "raw"
      ? { key, start, order: "desc", limit: MAX_RAW_POINTS }
      : { key, start, agg, interval: intervalFor(RANGES[range].ms), limit: 1_000 };
  const series = await api<TelemetrySeries>(devicePath(deviceId, "/telemetry"), { query, signal });
  const points = agg === "raw" ? series.points.slice().reverse() : series.points;
  const data: SeriesData = { xs: [], ys: [] };
  for (const point of points) {
    data.xs.push(Date.parse(point.ts) / 1000);
    data.ys.push(numeric(point.value));
  }
  return data;
}

/**
 * `data` with the live `points` (epoch ms, value) added in time order, without those older than the range
 * and keeping the newest MAX_RAW_POINTS. A new object: the cache sees the change.
 */
export function appendPoints(data: SeriesData, points: [number, number][], rangeMs: number): SeriesData {
  const xs = data.xs.slice();
  const ys = data.ys.slice();
  for (const [ms, value] of points) {
    const x = ms / 1000;
    const last = xs[xs.length - 1];
    if (last === undefined || x >= last) {
      xs.push(x);
      ys.push(value);
    } else {
      // A device's clock or a replayed spool can send older readings: keep the x axis ascending.
      let low = 0;
      let high = xs.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if ((xs[mid] ?? 0) <= x) low = mid + 1;
        else high = mid;
      }
      xs.splice(low, 0, x);
      ys.splice(low, 0, value);
    }
  }
  const since = (Date.now() - rangeMs) / 1000;
  let drop = Math.max(0, xs.length - MAX_RAW_POINTS);
  while (drop < xs.length && (xs[drop] ?? 0) < since) drop++;
  if (drop > 0) {
    xs.splice(0, drop);
    ys.splice(0, drop);
  }
  return { xs, ys };
}

/**
 * A fresh read of a raw series, with the live points the cache got after the read began: a refetch never
 * takes back points that arrived while it was under way.
 */
export function mergeSeries(oldData: unknown, newData: unknown): unknown {
  const old = oldData as SeriesData | undefined;
  const fresh = newData as SeriesData;
  if (old === undefined || old === fresh) return fresh;
  const last = fresh.xs[fresh.xs.length - 1] ?? -Infinity;
  let from = old.xs.length;
  while (from > 0 && (old.xs[from - 1] ?? -Infinity) > last) from--;
  if (from === old.xs.length) return fresh;
  return { xs: [...fresh.xs, ...old.xs.slice(from)], ys: [...fresh.ys, ...old.ys.slice(from)] };
}
