// Rules, alarms and channels in words, and the choices their forms offer (docs/alarms.md).
import type { AlarmState, Channel, ChannelKind, Operator, Rule, RuleKind, RuleSource, Severity } from "../lib/api";

// Each list is checked against the API's own union: a value it drops or renames fails the type check.
function all<T extends string>() {
  return <const L extends readonly T[]>(list: L & ([T] extends [L[number]] ? unknown : never)) => list;
}

/** From the most to the least urgent. */
export const SEVERITIES = all<Severity>()(["critical", "major", "minor", "warning", "info"]);
export const STATES = all<AlarmState>()(["active", "acknowledged", "cleared"]);
export const RULE_KINDS = all<RuleKind>()(["threshold", "range", "rate", "no_data"]);
export const SOURCES = all<RuleSource>()(["telemetry", "heartbeat"]);
export const OPERATORS = all<Operator>()([">", ">=", "<", "<=", "==", "!="]);
export const CHANNEL_KINDS = all<ChannelKind>()(["webhook", "email", "mqtt", "stream"]);

export const KIND_WORDS: Record<RuleKind, string> = {
  threshold: "threshold: the value compared with a limit",
  range: "range: the value outside (or inside) low..high",
  rate: "rate: the change per second compared with a limit",
  no_data: "no data: nothing received for a while",
};

export const CHANNEL_KIND_WORDS: Record<ChannelKind, string> = {
  webhook: "webhook: a signed JSON POST",
  email: "e-mail: to a list of recipients",
  mqtt: "MQTT: published to one of your devices",
  stream: "stream: the hub's northbound streams",
};

export const NOTIFY_WORDS: Record<AlarmState, string> = {
  active: "raised",
  acknowledged: "acknowledged",
  cleared: "cleared",
};

// The API checks these (contracts/alarms.py HEARTBEAT_FIGURES and TEMPLATE_FIELDS); the OpenAPI document does not
// list them, so the form keeps a copy, which tests/unit/test_portal_words.py holds equal to the API's.
export const HEARTBEAT_FIGURES = [
  "cpu_temp",
  "load1",
  "mem_used_pct",
  "disk_used_pct",
  "spool.depth",
  "spool.oldest_age_s",
  "spool.dropped",
  "spool.bytes_used",
] as const;
export const TEMPLATE_FIELDS = [
  "device",
  "device_name",
  "key",
  "value",
  "unit",
  "threshold",
  "rule",
  "severity",
  "silent_s",
  "tenant",
] as const;

export function formatValue(value: number | boolean | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return typeof value === "string" ? value : String(value);
}

/** Seconds as people say them: 45 s, 5 min, 2 h, 1 d 2 h. */
export function duration(seconds: number): string {
  if (seconds < 120) return `${String(seconds)} s`;
  if (seconds < 7200) return `${String(Math.round(seconds / 6) / 10)} min`;
  if (seconds < 172800) return `${String(Math.round(seconds / 360) / 10)} h`;
  return `${String(Math.round(seconds / 8640) / 10)} d`;
}

/** What the rule watches, as in "devices of profile freezer". */
export function targetWords(rule: Pick<Rule, "profile" | "selector">): string {
  if (rule.profile !== null && rule.profile !== undefined) return `profile ${rule.profile}`;
  const labels = Object.entries(rule.selector ?? {});
  if (labels.length === 0) return "every device";
  return `labels ${labels.map(([k, v]) => `${k}=${v}`).join(", ")}`;
}

/** The rule's condition, as in "temperature > -10" or "no heartbeat for 5 min". */
export function conditionWords(rule: Rule): string {
  const subject = rule.source === "heartbeat" ? `heartbeat ${rule.key ?? ""}`.trim() : (rule.key ?? "");
  switch (rule.kind) {
    case "threshold":
      return `${subject} ${rule.op ?? "?"} ${formatValue(rule.value)}`;
    case "range":
      return `${subject} ${rule.inside ? "inside" : "outside"} ${formatValue(rule.low)}..${formatValue(rule.high)}`;
    case "rate":
      return `${subject} changes ${rule.op ?? "?"} ${formatValue(rule.value)} per second`;
    case "no_data": {
      const what = rule.key === null || rule.key === undefined
        ? (rule.source === "heartbeat" ? "heartbeat" : "message")
        : subject;
      return `no ${what} for ${duration(rule.silence_s ?? 0)}`;
    }
  }
}

/** How the alarm clears, in words. */
export function clearWords(rule: Rule): string {
  if (rule.clear !== null && rule.clear !== undefined) return `clears when ${rule.clear.op} ${formatValue(rule.clear.value)}`;
  if (rule.hysteresis > 0) return `clears ${String(rule.hysteresis)} back past the limit`;
  return "clears when it no longer holds";
}

/** Where a channel tells, in words. */
export function channelTarget(channel: Channel): string {
  const target = channel.target;
  switch (target.kind) {
    case "webhook":
      return target.url;
    case "email":
      return target.to.join(", ");
    case "mqtt":
      return `devices/${target.device}/alarms`;
    case "stream":
      return "northbound streams";
  }
}
