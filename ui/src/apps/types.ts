// What the hub's Apps, Deployments, Events and Logs routes answer (docs/api.md), as the portal reads it.

export interface AppVersion {
  tenant: string;
  name: string;
  version: string;
  digest: string;
  size: number;
  created: number;
  created_by: string;
  manifest: Manifest;
}

/** The parts of fieldhub-app.toml the portal shows; the API answers the whole manifest. */
export interface Manifest {
  app: { name: string; version: string; description?: string };
  runtime?: { kind?: string };
  http?: { health?: string; public?: boolean } | null;
  placement?: { replicas?: number; node_labels?: Record<string, string> };
  sensors?: { bind: string; type: string; location?: string | null }[];
  actuators?: { bind: string; type: string; location?: string | null }[];
}

export interface App {
  tenant: string;
  name: string;
  versions: AppVersion[];
}

export interface AppSummary {
  tenant: string;
  name: string;
  latest: string;
  description: string;
  versions: number;
}

export interface ServiceState {
  status: string;
  pid?: number | null;
  container?: string | null;
  exit_code?: number | null;
  restarts: number;
}

export interface Instance {
  node: string;
  replica: number;
  version: string | null;
  status: string;
  reason: string;
  since: number | null;
  services: Record<string, ServiceState>;
}

export interface Candidate {
  node: string;
  accepted: boolean;
  reason: string;
  rank: number | null;
}

export interface Placement {
  reason: string;
  candidates: Candidate[];
}

export type Schedule =
  | { kind: "now" }
  | { kind: "at"; start: string }
  | { kind: "window"; start: string; end: string }
  | { kind: "cron"; cron: string; duration_s: number; timezone?: string };

export interface Deployment {
  id: string;
  tenant: string;
  app: string;
  version: string;
  replicas: number;
  status: string;
  instances: Instance[];
  placement: Placement | null;
  link: string | null;
  rollout: { from: string; to: string; grace_s: number; started: number } | null;
  schedule: Schedule;
  next_start: number | null;
  created: number;
  updated: number;
  timeline: { ts: number; status: string; reason: string }[];
}

export interface PlatformEvent {
  id: number;
  ts: number;
  tenant: string;
  kind: string;
  deployment?: string | null;
  node?: string | null;
  message: string;
  data: Record<string, unknown>;
}

export interface LogLine {
  id: number;
  ts: string;
  level: string;
  node: string;
  logger: string;
  message: string;
  instance?: string | null;
  service?: string | null;
  stream?: string | null;
}

export interface Items<T> {
  items: T[];
}
