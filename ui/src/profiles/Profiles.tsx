// Device profiles of the tenant (every tenant's, for platform admins): create, edit, delete (refused with the
// API's message while a device or rule names the profile).
import { useState } from "react";
import type { KeySpec, Profile } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, useTitle } from "../lib/controls";
import { AlarmTabs } from "../alarms/Tabs";
import { ProfileForm } from "./ProfileForm";
import { useDeleteProfile, useProfiles } from "./queries";

function keyWords(name: string, spec: KeySpec): string {
  const range =
    (spec.min === null || spec.min === undefined) && (spec.max === null || spec.max === undefined)
      ? ""
      : ` ${spec.min === null || spec.min === undefined ? "…" : String(spec.min)}..${spec.max === null || spec.max === undefined ? "…" : String(spec.max)}`;
  return `${name} (${spec.type}${spec.unit ? `, ${spec.unit}` : ""}${range})`;
}

function ProfileRow({ profile, onEdit }: { profile: Profile; onEdit: () => void }) {
  const remove = useDeleteProfile();
  const keys = Object.entries(profile.keys ?? {});
  return (
    <tr>
      <th scope="row">
        {profile.name}
        <div className="muted"><code>{profile.id}</code>{profile.tenant === "default" ? "" : ` · ${profile.tenant}`}</div>
      </th>
      <td className="wrap">
        {keys.length === 0 ? <span className="muted">none</span> : keys.map(([name, spec]) => keyWords(name, spec)).join("; ")}
      </td>
      <td>
        {Object.entries(profile.labels ?? {}).map(([k, v]) => <code key={k} className="label-chip">{k}={v}</code>)}
      </td>
      <td>{profile.strict ? "strict" : "lenient"}</td>
      <td className="actions">
        <button type="button" className="secondary" aria-label={`Edit ${profile.name}`} onClick={onEdit}>Edit</button>{" "}
        <ConfirmButton
          label="Delete"
          name={`Delete ${profile.name}`}
          confirmLabel="Delete profile"
          question={`Delete profile ${profile.name}?`}
          disabled={remove.isPending}
          onConfirm={() => { remove.mutate(profile); }}
        />
        <ErrorMessage error={remove.error} />
      </td>
    </tr>
  );
}

export function Profiles() {
  useTitle("Device profiles");
  const profiles = useProfiles();
  const [editing, setEditing] = useState<{ profile: Profile } | "new" | null>(null);
  const items = profiles.data?.items ?? [];
  return (
    <>
      <div className="page-head">
        <h1>Device profiles</h1>
        {editing === null && <button type="button" onClick={() => { setEditing("new"); }}>Create profile</button>}
      </div>
      <AlarmTabs />
      <p className="muted">
        A profile describes a kind of device: the keys it sends and the labels it starts with. Devices name one in
        their settings; rules can watch every device of a profile.
      </p>
      {editing !== null && (
        <ProfileForm
          key={editing === "new" ? "new" : `${editing.profile.tenant}/${editing.profile.id}`}
          {...(editing === "new" ? {} : { profile: editing.profile })}
          onDone={() => { setEditing(null); }}
        />
      )}
      <ErrorMessage error={profiles.error} />
      {profiles.data === undefined ? (
        profiles.isPending && <p className="loading" role="status">Loading profiles…</p>
      ) : (
        <div className="table-wrap">
          <table className="data" aria-label="Profiles">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Keys</th>
                <th scope="col">Labels</th>
                <th scope="col">Readings that do not fit</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((profile) => (
                <ProfileRow
                  key={`${profile.tenant}/${profile.id}`}
                  profile={profile}
                  onEdit={() => { setEditing({ profile }); window.scrollTo({ top: 0 }); }}
                />
              ))}
              {items.length === 0 && <tr><td colSpan={5} className="muted">No profiles yet.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
