import type { UseFormRegisterReturn } from "react-hook-form";
import { Field } from "../lib/controls";
import { useTenantProfiles } from "./queries";

/** The profile a device names, among its tenant's ("": none). */
export function ProfileSelect({
  tenant,
  current = "",
  registration,
}: {
  tenant: string;
  /** The profile named now: offered before the list has loaded, so the select shows it from the start. */
  current?: string;
  registration: UseFormRegisterReturn;
}) {
  const profiles = useTenantProfiles(tenant);
  const known = current === "" || profiles.some((p) => p.id === current);
  return (
    <Field label="Profile" hint="Its keys and starting labels (device profiles page)">
      {(props) => (
        <select {...props} {...registration}>
          <option value="">none</option>
          {!known && <option value={current}>{current}</option>}
          {profiles.map((p) => (
            <option key={p.id} value={p.id}>{p.name === p.id ? p.id : `${p.name} (${p.id})`}</option>
          ))}
        </select>
      )}
    </Field>
  );
}
