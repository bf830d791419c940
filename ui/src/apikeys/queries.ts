// API keys (docs/api.md, "API keys"): the signed-in user's own, or its tenant's for an admin, through TanStack Query.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ApiKeyCreate, ApiKeyCreated, ApiKeyList } from "../lib/api";
import { api } from "../lib/client";

const API_KEYS_KEY = ["api-keys"] as const;

export function useApiKeys() {
  return useQuery({
    queryKey: API_KEYS_KEY,
    queryFn: ({ signal }) => api<ApiKeyList>("/api/v1/api-keys", { signal }),
  });
}

/** Makes a key; the answer holds the key itself, which the hub never shows again. */
export function useCreateApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ApiKeyCreate) => api<ApiKeyCreated>("/api/v1/api-keys", { method: "POST", json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: API_KEYS_KEY }),
  });
}

export function useRevokeApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api<undefined>(`/api/v1/api-keys/${encodeURIComponent(id)}`, { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: API_KEYS_KEY }),
  });
}
