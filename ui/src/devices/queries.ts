// The device API as the devices pages use it: its shapes (docs/api.md, Devices, Telemetry and State) and
// the query keys under which TanStack Query keeps them.
import type { Schemas } from "../lib/api";
import { api } from "../lib/client";

export type DeviceKind = Schemas["DeviceKind"];
export type DeviceStatus = Device["status"];

export type Device = Schemas["Device"];

export type Credentials = DeviceWithCredentials["credentials"];

export type DeviceWithCredentials = Schemas["DeviceWithCredentials"];

/** A reading's value; null where an aggregate has no readings in its bucket. */
export type Scalar = Schemas["LatestValue"]["value"] | null;

export type LatestValues = Schemas["LatestValues"];

/** Latest values from a read, each kept only where the cache does not hold a newer one (from the live stream). */
export function mergeLatest(oldData: unknown, newData: unknown): unknown {
  const old = oldData as LatestValues | undefined;
  const fresh = newData as LatestValues;
  if (old === undefined || old === fresh) return fresh;
  const values = { ...fresh.values };
  for (const [key, value] of Object.entries(old.values)) {
    const current = values[key];
    if (current === undefined || Date.parse(current.ts) < Date.parse(value.ts)) values[key] = value;
  }
  return { ...fresh, values };
}

export type TelemetrySeries = Schemas["TelemetrySeries"];

/** One live `telemetry` event of GET /devices/{id}/live. */
export interface LiveMessage {
  device_id: string;
  readings: { key: string; ts: string; value: Schemas["LatestValue"]["value"]; seq: number | null }[];
}

export type StateDoc = Schemas["StateDoc"];

export type DeviceState = Schemas["DeviceState"];

export type CommandAnswer = Schemas["CommandResponse"];

export interface DeviceFilters {
  q: string;
  label: string;
  status: "" | DeviceStatus;
  offset: number;
}

export const PAGE_SIZE = 50;

export const deviceKeys = {
  all: ["devices"] as const,
  list: (filters: DeviceFilters) => ["devices", "list", filters] as const,
  one: (id: string) => ["devices", "one", id] as const,
  latest: (id: string) => ["devices", "one", id, "latest"] as const,
  state: (id: string) => ["devices", "one", id, "state"] as const,
  series: (id: string, key: string, range: string, agg: string) =>
    ["devices", "one", id, "series", key, range, agg] as const,
};

const base = "/api/v1/devices";

export function devicePath(id: string, rest = ""): string {
  return `${base}/${encodeURIComponent(id)}${rest}`;
}

export function listDevices(filters: DeviceFilters, signal: AbortSignal): Promise<Schemas["DevicePage"]> {
  return api<Schemas["DevicePage"]>(base, {
    query: { q: filters.q, label: filters.label, status: filters.status, limit: PAGE_SIZE, offset: filters.offset },
    signal,
  });
}

export function createDevice(body: {
  name: string;
  id?: string;
  kind: DeviceKind;
  labels: Record<string, string>;
  profile?: string;
}): Promise<DeviceWithCredentials> {
  return api<DeviceWithCredentials>(base, { method: "POST", json: body });
}

export function getDevice(id: string, signal: AbortSignal): Promise<Device> {
  return api<Device>(devicePath(id), { signal });
}

export function patchDevice(
  id: string,
  patch: { name?: string; labels?: Record<string, string>; enabled?: boolean; profile?: string },
): Promise<Device> {
  return api<Device>(devicePath(id), { method: "PATCH", json: patch });
}

export function deleteDevice(id: string): Promise<undefined> {
  return api<undefined>(devicePath(id), { method: "DELETE" });
}

export function rotateCredentials(id: string): Promise<Credentials> {
  return api<Credentials>(devicePath(id, "/credentials"), { method: "POST" });
}

export function getLatest(id: string, signal: AbortSignal): Promise<LatestValues> {
  return api<LatestValues>(devicePath(id, "/latest"), { signal });
}

export function getState(id: string, signal: AbortSignal): Promise<DeviceState> {
  return api<DeviceState>(devicePath(id, "/state"), { signal });
}

export function putDesired(id: string, state: Record<string, unknown>): Promise<StateDoc> {
  return api<StateDoc>(devicePath(id, "/state/desired"), { method: "PUT", json: state });
}

export function sendCommand(
  id: string,
  name: string,
  params: Record<string, unknown>,
  timeoutS: number | undefined,
): Promise<CommandAnswer> {
  return api<CommandAnswer>(devicePath(id, `/commands/${encodeURIComponent(name)}`), {
    method: "POST",
    json: timeoutS === undefined ? { params } : { params, timeout_s: timeoutS },
  });
}
