// The app pages' server state: one query key per resource, each fetched through api().
import { useQuery } from "@tanstack/react-query";
import type { Schemas } from "../lib/api";
import { api } from "../lib/client";
import type { App, Deployment } from "./types";

/** A tenant for the API's `tenant` query parameter (null: the caller's own, or for platform admins every tenant). */
export type Tenant = string | null;

export const appKeys = {
  list: ["apps"] as const,
  app: (tenant: Tenant, name: string) => ["apps", tenant, name] as const,
  deployments: ["deployments"] as const,
  deployment: (id: string) => ["deployments", id] as const,
  events: (id: string) => ["events", "deployment", id] as const,
  logs: (id: string) => ["deployment-logs", id] as const,
};

export function useApps() {
  return useQuery({
    queryKey: appKeys.list,
    queryFn: ({ signal }) => api<Schemas["AppList"]>("/api/v1/apps", { signal }),
  });
}

export function useApp(tenant: Tenant, name: string) {
  return useQuery({
    queryKey: appKeys.app(tenant, name),
    queryFn: ({ signal }) => api<App>(`/api/v1/apps/${encodeURIComponent(name)}`, { query: { tenant }, signal }),
  });
}

/** Every deployment the caller sees, refreshed every few seconds while shown. */
export function useDeployments() {
  return useQuery({
    queryKey: appKeys.deployments,
    queryFn: ({ signal }) => api<Schemas["DeploymentList"]>("/api/v1/deployments", { signal }),
    refetchInterval: 5_000,
  });
}

/** One deployment, refreshed every few seconds; `enabled` false stops asking (e.g. while it is being deleted). */
export function useDeployment(id: string, enabled = true) {
  return useQuery({
    queryKey: appKeys.deployment(id),
    enabled,
    queryFn: ({ signal }) => api<Deployment>(`/api/v1/deployments/${encodeURIComponent(id)}`, { signal }),
    refetchInterval: 3_000,
  });
}

/** The portal's page of an app (the tenant in the query, so that platform admins reach any tenant's). */
export function appPath(tenant: string, name: string): string {
  return `/applications/${encodeURIComponent(name)}?tenant=${encodeURIComponent(tenant)}`;
}

/** Bytes as people read them. */
export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}
