// Server state of the nodes pages, through TanStack Query.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Schemas } from "../lib/api";
import { api } from "../lib/client";
import type { Node, NodeLogs, TokenCreated } from "./types";

/** Heartbeats come every few seconds: the figures refresh at about that pace while a page is open. */
export const REFRESH_MS = 5_000;
/** The most nodes one listing asks for (the API's own maximum). */
export const NODE_PAGE = 1000;

export function useNodes() {
  return useQuery({
    queryKey: ["nodes"],
    queryFn: ({ signal }) => api<Schemas["NodePage"]>("/api/v1/nodes", { query: { limit: NODE_PAGE }, signal }),
    refetchInterval: REFRESH_MS,
  });
}

export function useNode(nodeId: string) {
  return useQuery({
    queryKey: ["nodes", nodeId],
    queryFn: ({ signal }) => api<Node>(`/api/v1/nodes/${encodeURIComponent(nodeId)}`, { signal }),
    refetchInterval: REFRESH_MS,
  });
}

export function useNodeLogs(nodeId: string, enabled: boolean) {
  return useQuery({
    queryKey: ["nodes", nodeId, "logs"],
    queryFn: ({ signal }) =>
      api<NodeLogs>(`/api/v1/nodes/${encodeURIComponent(nodeId)}/logs`, { query: { limit: 200 }, signal }),
    refetchInterval: REFRESH_MS,
    enabled,
  });
}

const TOKENS_KEY = ["provisioning-tokens"] as const;

export function useTokens(enabled: boolean) {
  return useQuery({
    queryKey: TOKENS_KEY,
    queryFn: ({ signal }) => api<Schemas["TokenList"]>("/api/v1/provisioning-tokens", { signal }),
    enabled,
  });
}

export interface TokenRequest {
  tenant?: string;
  expires_in_s: number;
  uses: number;
}

export function useCreateToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: TokenRequest) => api<TokenCreated>("/api/v1/provisioning-tokens", { method: "POST", json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: TOKENS_KEY }),
  });
}

export function useRevokeToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      api<undefined>(`/api/v1/provisioning-tokens/${encodeURIComponent(id)}`, { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: TOKENS_KEY }),
  });
}
