// The audit trail (docs/api.md, "Audit trail"): newest first, paged by the hub with `before` cursors.
import { useQuery } from "@tanstack/react-query";
import type { AuditList } from "../lib/api";
import { api } from "../lib/client";

export const AUDIT_PAGE_SIZE = 50;
/** The newest page is read again at this pace while open, so that new records appear (older pages do not move). */
const REFRESH_MS = 5_000;

export interface AuditFilters {
  actor: string;
  /** An action (device.create) or a family of them (device.). */
  action: string;
  target: string;
  /** RFC 3339, inclusive; "" for no bound. */
  start: string;
  /** RFC 3339, exclusive; "" for no bound. */
  end: string;
}

/** One page: the newest records matching `filters`, older than the record `before` when given. */
export function useAudit(filters: AuditFilters, before: number | null) {
  return useQuery({
    queryKey: ["audit", filters, before] as const,
    queryFn: ({ signal }) =>
      api<AuditList>("/api/v1/audit", {
        query: { ...filters, before: before ?? undefined, limit: AUDIT_PAGE_SIZE },
        signal,
      }),
    placeholderData: (previous) => previous,
    refetchInterval: before === null ? REFRESH_MS : false,
  });
}
