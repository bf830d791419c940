// Tenants and users (docs/api.md, "Tenants and users"), through TanStack Query.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Role, Tenant, TenantList, TenantUpdate, User, UserCreate, UserList, UserUpdate } from "../lib/api";
import { api } from "../lib/client";

export type { Role, Tenant, User, UserCreate };

const TENANTS_KEY = ["tenants"] as const;
const USERS_KEY = ["users"] as const;

export function useTenants(enabled = true) {
  return useQuery({
    queryKey: TENANTS_KEY,
    queryFn: ({ signal }) => api<TenantList>("/api/v1/tenants", { signal }),
    enabled,
  });
}

export function useCreateTenant() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; id?: string }) => api<Tenant>("/api/v1/tenants", { method: "POST", json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: TENANTS_KEY }),
  });
}

function tenantPath(id: string): string {
  return `/api/v1/tenants/${encodeURIComponent(id)}`;
}

/** Renames a tenant and/or sets its retention (`null`: the hub's default); what the body leaves out stays. */
export function useUpdateTenant(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: TenantUpdate) => api<Tenant>(tenantPath(id), { method: "PATCH", json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: TENANTS_KEY }),
  });
}

/** Deletes an empty tenant; the API's 409 names what is left in it. */
export function useDeleteTenant(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api<undefined>(tenantPath(id), { method: "DELETE" }),
    onSuccess: () => Promise.all([
      client.invalidateQueries({ queryKey: TENANTS_KEY }),
      client.invalidateQueries({ queryKey: USERS_KEY }),
    ]),
  });
}

export function useUsers() {
  return useQuery({
    queryKey: USERS_KEY,
    queryFn: ({ signal }) => api<UserList>("/api/v1/users", { signal }),
  });
}

export function useCreateUser() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: UserCreate) => api<User>("/api/v1/users", { method: "POST", json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: USERS_KEY }),
  });
}

function userPath(username: string): string {
  return `/api/v1/users/${encodeURIComponent(username)}`;
}

/** Role, password or disabled; a directory user takes only `disabled` (the API answers 422 otherwise). */
export function useUpdateUser(username: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: UserUpdate) => api<User>(userPath(username), { method: "PATCH", json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: USERS_KEY }),
  });
}

export function useDeleteUser(username: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api<undefined>(userPath(username), { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: USERS_KEY }),
  });
}
