// Alarms, rules and channels as the alarms pages use them (docs/api.md), under TanStack Query's keys. The alarms
// stream feeds the same cache: a change patches the rows and the alarm page at once, then the lists are read again.
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useCallback, useEffect } from "react";
import type {
  Alarm,
  AlarmPage,
  AlarmState,
  Channel,
  ChannelCreate,
  ChannelCreated,
  ChannelList,
  ChannelPatch,
  Rule,
  RuleCreate,
  RuleList,
  RulePatch,
  Severity,
} from "../lib/api";
import { api } from "../lib/client";
import { useEventStream, type LiveStatus } from "../lib/live";

export interface AlarmFilters {
  /** A platform admin's chosen tenant (null: every tenant's, or a tenant user's own). */
  tenant: string | null;
  state: "" | AlarmState;
  severity: "" | Severity;
  device: string;
  offset: number;
}

export const ALARM_PAGE_SIZE = 50;
/** The count of active alarms in the navigation is read at this pace on every page (one small request). */
const COUNT_REFRESH_MS = 30_000;
/** Delivery counters of channels move while notifications go out. */
const CHANNEL_REFRESH_MS = 10_000;

export const alarmKeys = {
  all: ["alarms"] as const,
  lists: ["alarms", "list"] as const,
  list: (filters: AlarmFilters) => ["alarms", "list", filters] as const,
  one: (id: string) => ["alarms", "one", id] as const,
  count: ["alarms", "count"] as const,
};
// Lists are keyed by the chosen tenant under these; a change invalidates every tenant's.
export const RULES_KEY = ["rules"] as const;
export const CHANNELS_KEY = ["channels"] as const;

const alarmPath = (id: string, rest = "") => `/api/v1/alarms/${encodeURIComponent(id)}${rest}`;

export function useAlarms(filters: AlarmFilters) {
  return useQuery({
    queryKey: alarmKeys.list(filters),
    queryFn: ({ signal }) =>
      api<AlarmPage>("/api/v1/alarms", {
        query: {
          tenant: filters.tenant,
          state: filters.state,
          severity: filters.severity,
          device: filters.device,
          limit: ALARM_PAGE_SIZE,
          offset: filters.offset,
        },
        signal,
      }),
    placeholderData: (previous) => previous,
  });
}

export function useAlarm(id: string) {
  return useQuery({ queryKey: alarmKeys.one(id), queryFn: ({ signal }) => api<Alarm>(alarmPath(id), { signal }) });
}

/** How many alarms are active (the navigation's badge). */
export function useActiveAlarmCount() {
  return useQuery({
    queryKey: alarmKeys.count,
    queryFn: ({ signal }) => api<AlarmPage>("/api/v1/alarms", { query: { state: "active", limit: 1 }, signal }),
    select: (page) => page.total,
    refetchInterval: COUNT_REFRESH_MS,
  });
}

/** Put a changed alarm where the cache shows it (rows of the lists, its own page, which keeps its history). */
function apply(client: QueryClient, alarm: Alarm): void {
  client.setQueriesData<AlarmPage>({ queryKey: alarmKeys.lists }, (page) =>
    page === undefined
      ? page
      : { ...page, items: page.items.map((item) => (item.id === alarm.id ? { ...item, ...alarm, history: [] } : item)) },
  );
  client.setQueryData<Alarm>(alarmKeys.one(alarm.id), (old) =>
    old === undefined ? old : { ...old, ...alarm, history: old.history ?? [] },
  );
}

function refresh(client: QueryClient, id?: string): void {
  void client.invalidateQueries({ queryKey: alarmKeys.lists });
  void client.invalidateQueries({ queryKey: alarmKeys.count });
  if (id !== undefined) void client.invalidateQueries({ queryKey: alarmKeys.one(id) });
}

/** Follow GET /alarms/stream while the page is open: every change lands in the cache. */
export function useLiveAlarms(): LiveStatus {
  const client = useQueryClient();
  const onAlarm = useCallback(
    (alarm: Alarm & { kind?: string }) => {
      const changed: Alarm = { ...alarm };
      delete (changed as { kind?: string }).kind;
      apply(client, changed);
      // A raised alarm is a new row (on the right page, in the filters' order): the lists are read again.
      refresh(client, changed.id);
    },
    [client],
  );
  const status = useEventStream<Alarm & { kind?: string }>("/api/v1/alarms/stream", "alarm", onAlarm);
  // The stream tells changes from the moment it opens: what changed before (while connecting) is read again.
  useEffect(() => {
    if (status === "open") refresh(client);
  }, [status, client]);
  return status;
}

export function useAlarmAction() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ alarm, action, note }: { alarm: Alarm; action: "ack" | "clear"; note?: string }) =>
      api<Alarm>(alarmPath(alarm.id, `/${action}`), {
        method: "POST",
        json: note === undefined || note.trim() === "" ? {} : { note: note.trim() },
      }),
    onSuccess: (alarm) => {
      apply(client, alarm);
      client.setQueryData(alarmKeys.one(alarm.id), alarm);
      refresh(client);
    },
  });
}

// Rules. A platform admin sees every tenant's or a chosen one's (`tenant`: null for every tenant, and for tenant
// users, whom the API keeps in their own); a new rule goes to the chosen tenant, a rule is changed in its own.

export function useRules(tenant: string | null) {
  return useQuery({
    queryKey: [...RULES_KEY, tenant],
    queryFn: ({ signal }) => api<RuleList>("/api/v1/rules", { query: { tenant }, signal }),
  });
}

const rulePath = (rule: Pick<Rule, "id" | "tenant">) => `/api/v1/rules/${encodeURIComponent(rule.id)}`;

export function useSaveRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ rule, tenant, body }: { rule?: Rule; tenant: string | null; body: RuleCreate }) => {
      if (rule === undefined) return api<Rule>("/api/v1/rules", { method: "POST", query: { tenant }, json: body });
      // A patch with every field (null where absent) makes the rule exactly what the form shows.
      const patch: RulePatch & { id?: string | null } = { ...body };
      delete patch.id;
      return api<Rule>(rulePath(rule), { method: "PATCH", query: { tenant: rule.tenant }, json: patch });
    },
    onSuccess: () => client.invalidateQueries({ queryKey: RULES_KEY }),
  });
}

export function usePatchRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ rule, patch }: { rule: Rule; patch: RulePatch }) =>
      api<Rule>(rulePath(rule), { method: "PATCH", query: { tenant: rule.tenant }, json: patch }),
    onSuccess: () => client.invalidateQueries({ queryKey: RULES_KEY }),
  });
}

export function useDeleteRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (rule: Rule) => api<undefined>(rulePath(rule), { method: "DELETE", query: { tenant: rule.tenant } }),
    onSuccess: () => client.invalidateQueries({ queryKey: RULES_KEY }),
  });
}

// Channels, listed and made as rules are; ids are unique in the hub, so a platform admin names one without its tenant.

export function useChannels(tenant: string | null, live = false) {
  return useQuery({
    queryKey: [...CHANNELS_KEY, tenant],
    queryFn: ({ signal }) => api<ChannelList>("/api/v1/channels", { query: { tenant }, signal }),
    refetchInterval: live ? CHANNEL_REFRESH_MS : false,
  });
}

const channelPath = (channel: Channel) => `/api/v1/channels/${encodeURIComponent(channel.id)}`;

export function useCreateChannel() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ tenant, body }: { tenant: string | null; body: ChannelCreate }) =>
      api<ChannelCreated>("/api/v1/channels", { method: "POST", query: { tenant }, json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: CHANNELS_KEY }),
  });
}

export function usePatchChannel() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ channel, patch }: { channel: Channel; patch: ChannelPatch }) =>
      api<Channel>(channelPath(channel), { method: "PATCH", json: patch }),
    onSuccess: () => client.invalidateQueries({ queryKey: CHANNELS_KEY }),
  });
}

export function useDeleteChannel() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (channel: Channel) => api<undefined>(channelPath(channel), { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: CHANNELS_KEY }),
  });
}
