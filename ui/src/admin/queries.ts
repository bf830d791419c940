// Tenants and users (docs/api.md, "Tenants and users"), through TanStack Query.
import type { Schemas } from "../lib/api";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../lib/client";

export type Tenant = Schemas["Tenant"];

export type Role = Schemas["Role"];

export type User = Schemas["User"];

const TENANTS_KEY = ["tenants"] as const;
const USERS_KEY = ["users"] as const;

export function useTenants(enabled = true) {
  return useQuery({
    queryKey: TENANTS_KEY,
    queryFn: ({ signal }) => api<Schemas["TenantList"]>("/api/v1/tenants", { signal }),
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

export function useUsers() {
  return useQuery({
    queryKey: USERS_KEY,
    queryFn: ({ signal }) => api<Schemas["UserList"]>("/api/v1/users", { signal }),
  });
}

export type UserCreate = Schemas["UserCreate"];

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

export function useUpdateUser(username: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { role?: Role; password?: string }) => api<User>(userPath(username), { method: "PATCH", json: body }),
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
