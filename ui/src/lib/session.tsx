// Who is signed in. The session itself is an HttpOnly cookie the page never sees; this keeps only what
// GET /api/v1/auth/session says about it, and its CSRF token, in memory.
import type { Schemas } from "./api";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, api, setCsrfToken } from "./client";

export type Session = Schemas["BrowserSession"];

export const SESSION_KEY = ["session"] as const;

async function fetchSession(): Promise<Session | null> {
  try {
    const session = await api<Session>("/api/v1/auth/session");
    setCsrfToken(session.csrf_token);
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setCsrfToken(null);
      return null;
    }
    throw error;
  }
}

export function useSession() {
  return useQuery({ queryKey: SESSION_KEY, queryFn: fetchSession, staleTime: Infinity, retry: false });
}

/** The signed-in session; only for pages under the signed-in layout, which renders them only with one. */
export function useCurrentSession(): Session {
  const { data } = useSession();
  if (data === undefined || data === null) throw new Error("no session: this page needs a signed-in user");
  return data;
}

export function isPlatformAdmin(session: Session): boolean {
  return session.role === "admin" && session.tenant === null;
}

export function useSignIn() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (credentials: { username: string; password: string }) =>
      api<Session>("/api/v1/auth/session", { method: "POST", json: credentials }),
    onSuccess: (session) => {
      setCsrfToken(session.csrf_token);
      client.setQueryData(SESSION_KEY, session);
    },
  });
}

export function useSignOut() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api<undefined>("/api/v1/auth/session", { method: "DELETE" }),
    onSettled: () => {
      setCsrfToken(null);
      client.clear();
      client.setQueryData(SESSION_KEY, null);
    },
  });
}

/** The tenant a user's new objects go to: its own, or for platform admins `default` (the API's choice too). */
export function homeTenant(session: Session): string {
  return session.tenant ?? "default";
}
