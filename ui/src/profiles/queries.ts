// Device profiles as the portal uses them (docs/alarms.md#device-profiles). A platform admin sees every tenant's;
// one is changed in its own tenant (?tenant=), as profile ids are unique per tenant only.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Profile, ProfileCreate, ProfileList, ProfilePatch } from "../lib/api";
import { api } from "../lib/client";

export const PROFILES_KEY = ["profiles"] as const;

const profilePath = (profile: Pick<Profile, "id">) => `/api/v1/profiles/${encodeURIComponent(profile.id)}`;

export function useProfiles() {
  return useQuery({
    queryKey: PROFILES_KEY,
    queryFn: ({ signal }) => api<ProfileList>("/api/v1/profiles", { signal }),
  });
}

/** The profiles of one tenant (what a device or rule of that tenant may name). */
export function useTenantProfiles(tenant: string): Profile[] {
  const profiles = useProfiles();
  return (profiles.data?.items ?? []).filter((p) => p.tenant === tenant);
}

export function useSaveProfile() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ profile, body }: { profile?: Profile; body: ProfileCreate }) => {
      if (profile === undefined) return api<Profile>("/api/v1/profiles", { method: "POST", json: body });
      const patch: ProfilePatch & { id?: string | null } = { ...body };
      delete patch.id;
      return api<Profile>(profilePath(profile), { method: "PATCH", query: { tenant: profile.tenant }, json: patch });
    },
    onSuccess: () => client.invalidateQueries({ queryKey: PROFILES_KEY }),
  });
}

export function useDeleteProfile() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (profile: Profile) =>
      api<undefined>(profilePath(profile), { method: "DELETE", query: { tenant: profile.tenant } }),
    onSuccess: () => client.invalidateQueries({ queryKey: PROFILES_KEY }),
  });
}
