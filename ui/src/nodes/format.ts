// How the nodes pages write heartbeat figures: a unit with every number, a dash for what was not reported.

export const NONE = "—";

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? NONE : `${value.toFixed(1)} %`;
}

export function celsius(value: number | null | undefined): string {
  return value === null || value === undefined ? NONE : `${value.toFixed(1)} °C`;
}

export function load(value: number | null | undefined): string {
  return value === null || value === undefined ? NONE : value.toFixed(2);
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return NONE;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 / 1024).toFixed(1)} MiB`;
}
