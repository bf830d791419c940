// The rule form's values and the API body they stand for. Only what cannot be sent is checked here (labels that
// are not key=value lines); whether the rule holds together is the API's to say, in its own words.
import type { AlarmState, Operator, Rule, RuleCreate, RuleKind, RuleSource, Severity } from "../lib/api";
import { formatLabels, parseLabels, type Parsed } from "../devices/parse";

export type ClearMode = "plain" | "hysteresis" | "condition";

export interface RuleForm {
  name: string;
  id: string;
  enabled: boolean;
  target: "profile" | "selector";
  profile: string;
  selector: string;
  source: RuleSource;
  kind: RuleKind;
  key: string;
  op: Operator;
  value: string;
  low: string;
  high: string;
  inside: boolean;
  silence_s: string;
  for_s: string;
  clearMode: ClearMode;
  hysteresis: string;
  clearOp: Operator;
  clearValue: string;
  severity: Severity;
  message: string;
  channels: string[];
  notify_on: AlarmState[];
}

const DEFAULT_MESSAGE = "{rule}: {key} of {device} is {value}";

const text = (value: number | boolean | string | null | undefined): string =>
  value === null || value === undefined ? "" : String(value);

export function formOf(rule: Rule | undefined): RuleForm {
  if (rule === undefined) {
    return {
      name: "", id: "", enabled: true, target: "profile", profile: "", selector: "", source: "telemetry",
      kind: "threshold", key: "", op: ">", value: "", low: "", high: "", inside: false, silence_s: "", for_s: "0",
      clearMode: "plain", hysteresis: "", clearOp: "<", clearValue: "", severity: "major", message: DEFAULT_MESSAGE,
      channels: [], notify_on: ["active"],
    };
  }
  const hasClear = rule.clear !== null && rule.clear !== undefined;
  return {
    name: rule.name,
    id: rule.id,
    enabled: rule.enabled,
    target: rule.profile === null || rule.profile === undefined ? "selector" : "profile",
    profile: rule.profile ?? "",
    selector: formatLabels(rule.selector ?? {}),
    source: rule.source,
    kind: rule.kind,
    key: rule.key ?? "",
    op: rule.op ?? ">",
    value: text(rule.value),
    low: text(rule.low),
    high: text(rule.high),
    inside: rule.inside,
    silence_s: text(rule.silence_s),
    for_s: text(rule.for_s),
    clearMode: hasClear ? "condition" : rule.hysteresis > 0 ? "hysteresis" : "plain",
    hysteresis: rule.hysteresis > 0 ? text(rule.hysteresis) : "",
    clearOp: rule.clear?.op ?? "<",
    clearValue: text(rule.clear?.value),
    severity: rule.severity,
    message: rule.message,
    channels: rule.channels ?? [],
    notify_on: rule.notify_on ?? ["active"],
  };
}

/** A number typed in a field (null when empty; the text itself when it is none, for the API to refuse). */
function number(field: string): number | null {
  const trimmed = field.trim();
  if (trimmed === "") return null;
  const parsed = Number(trimmed);
  return Number.isFinite(parsed) ? parsed : (trimmed as unknown as number);
}

/** A limit: a number for orderings; for == and != also true, false or a text. */
export function threshold(field: string, op: Operator): number | boolean | string | null {
  const trimmed = field.trim();
  if (trimmed === "") return null;
  const parsed = Number(trimmed);
  if (Number.isFinite(parsed)) return parsed;
  if (op === "==" || op === "!=") {
    if (trimmed === "true") return true;
    if (trimmed === "false") return false;
  }
  return trimmed;
}

/** Checkboxes sharing a name give a list, one alone its value or false: always a list. */
function list<T extends string>(value: unknown): T[] {
  if (Array.isArray(value)) return value as T[];
  return typeof value === "string" && value !== "" ? [value as T] : [];
}

export function bodyOf(form: RuleForm): Parsed<RuleCreate> {
  let selector: Record<string, string> | null = null;
  if (form.target === "selector") {
    const labels = parseLabels(form.selector);
    if (!labels.ok) return labels;
    selector = labels.value;
  }
  const compared = form.kind === "threshold" || form.kind === "rate";
  const clearing = form.kind !== "no_data";
  const id = form.id.trim();
  const body: RuleCreate = {
    name: form.name.trim(),
    enabled: form.enabled,
    profile: form.target === "profile" && form.profile !== "" ? form.profile : null,
    selector,
    source: form.source,
    key: form.key.trim() === "" ? null : form.key.trim(),
    kind: form.kind,
    op: compared ? form.op : null,
    value: compared ? threshold(form.value, form.op) : null,
    low: form.kind === "range" ? number(form.low) : null,
    high: form.kind === "range" ? number(form.high) : null,
    inside: form.kind === "range" && form.inside,
    silence_s: form.kind === "no_data" ? number(form.silence_s) : null,
    for_s: number(form.for_s) ?? 0,
    hysteresis: clearing && form.clearMode === "hysteresis" ? (number(form.hysteresis) ?? 0) : 0,
    clear:
      clearing && form.clearMode === "condition"
        ? { op: form.clearOp, value: threshold(form.clearValue, form.clearOp) ?? "" }
        : null,
    severity: form.severity,
    message: form.message,
    channels: list<string>(form.channels),
    notify_on: list<AlarmState>(form.notify_on),
    ...(id === "" ? {} : { id }),
  };
  return { ok: true, value: body };
}
