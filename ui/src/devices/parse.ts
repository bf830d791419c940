// What people type into the devices forms, checked before anything is sent: labels as k=v lines and JSON objects.

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** `key=value` lines (blank lines skipped) -> labels; the first bad line is the error. */
export function parseLabels(text: string): Parsed<Record<string, string>> {
  const labels: Record<string, string> = {};
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const at = line.indexOf("=");
    if (at <= 0) return { ok: false, error: `Line ${index + 1}: write each label as key=value` };
    const key = line.slice(0, at).trim();
    if (key === "") return { ok: false, error: `Line ${index + 1}: the key is empty` };
    if (Object.hasOwn(labels, key)) return { ok: false, error: `Line ${index + 1}: "${key}" is given twice` };
    labels[key] = line.slice(at + 1).trim();
  }
  return { ok: true, value: labels };
}

export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}

/** A JSON object (not an array, string or number), or why the text is not one. */
export function parseJsonObject(text: string): Parsed<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `Invalid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: "Must be a JSON object, such as {\"key\": 1}" };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/** A filter of the devices list given as key=value (one label), or why not. */
export function checkLabelFilter(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  return trimmed.indexOf("=") > 0 ? undefined : "Write the label as key=value";
}

/** The form rule of a labels field: the parse error, if any, is the field's message. */
export const labelsRule = {
  validate: (text: string): true | string => {
    const parsed = parseLabels(text);
    return parsed.ok || parsed.error;
  },
};
