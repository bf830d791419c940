// What the hub's Apps, Deployments, Events and Logs routes answer (docs/api.md), as the portal reads it.
import type { Schemas } from "../lib/api";


export type AppVersion = Schemas["AppVersion"];

/** The parts of fieldhub-app.toml the portal shows; the API answers the whole manifest, untyped (a free-form object). */
export interface Manifest {
  app: { name: string; version: string; description?: string };
  runtime?: { kind?: string };
  http?: { health?: string; public?: boolean } | null;
  placement?: { replicas?: number; node_labels?: Record<string, string> };
  sensors?: { bind: string; type: string; location?: string | null }[];
  actuators?: { bind: string; type: string; location?: string | null }[];
}

/** What the portal reads of a version's manifest. */
export function manifestOf(version: AppVersion): Manifest {
  return version.manifest as unknown as Manifest;
}

export type App = Schemas["App"];

export type AppSummary = Schemas["AppSummary"];

export type ServiceState = Schemas["ServiceState"];

export type Instance = Schemas["Instance"];

export type Candidate = Schemas["Candidate"];

export type Placement = Schemas["Placement"];

export type Schedule = Deployment["schedule"];

export type Deployment = Schemas["Deployment"];

export type PlatformEvent = Schemas["Event"];

export type LogLine = Schemas["LogRecord"];
