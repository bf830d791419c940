// The one way the portal talks to the hub: same-origin fetch with the session cookie, the CSRF header on
// unsafe requests, and every refusal turned into an ApiError carrying the API's own message.

export interface ApiProblem {
  path: string;
  problem: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ApiProblem[];
  /** Seconds the hub asked to wait before trying again (its `Retry-After`), when it said. */
  readonly retryAfterS: number | null;

  constructor(status: number, code: string, message: string, details: ApiProblem[] = [], retryAfterS: number | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterS = retryAfterS;
  }
}

// Held in memory only: a reload asks GET /api/v1/auth/session for it again.
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function csrfHeaders(): Record<string, string> {
  return csrfToken === null ? {} : { "X-CSRF-Token": csrfToken };
}

export type Query = Record<string, string | number | boolean | undefined | null | string[]>;

export function withQuery(path: string, query?: Query): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => { params.append(key, v); });
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text === "" ? path : `${path}?${text}`;
}

interface ErrorShape {
  error?: { code?: unknown; message?: unknown; details?: unknown };
  detail?: unknown;
}

/** The ApiError an answer stands for (its JSON error body, else its status line). */
export async function errorOf(response: Response): Promise<ApiError> {
  let body: ErrorShape | null = null;
  try {
    body = (await response.json()) as ErrorShape;
  } catch {
    body = null;
  }
  const error = body?.error;
  const code = typeof error?.code === "string" ? error.code : "http_" + String(response.status);
  const message =
    typeof error?.message === "string" ? error.message : `${response.status} ${response.statusText || "error"}`;
  // Details of another shape (a 409's counts of what is left, which its message words already) are not problems.
  const details = Array.isArray(error?.details)
    ? error.details.map(problemOf).filter((d) => d.path !== "" || d.problem !== "")
    : [];
  const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return new ApiError(response.status, code, message, details, Number.isFinite(retry) && retry >= 0 ? retry : null);
}

/** One listed problem: a package's `{path, problem}`, or a refused request's `{loc, msg}` (where, then what). */
function problemOf(item: unknown): ApiProblem {
  const d = (typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>;
  if (typeof d.problem === "string") return { path: typeof d.path === "string" ? d.path : "", problem: d.problem };
  const loc = Array.isArray(d.loc) ? d.loc.map(String) : [];
  return { path: (loc[0] === "body" || loc[0] === "query" ? loc.slice(1) : loc).join("."), problem: typeof d.msg === "string" ? d.msg : "" };
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  query?: Query;
  json?: unknown;
  body?: BodyInit;
  signal?: AbortSignal;
}

/** Call the API; resolves to the parsed JSON answer (undefined for 204), rejects with ApiError. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") Object.assign(headers, csrfHeaders());
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers,
      body: body ?? null,
      credentials: "same-origin",
      signal: options.signal ?? null,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", "Cannot reach the hub: check your connection and try again.");
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

