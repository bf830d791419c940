// API keys for scripts and automation: made here (the key shown once), listed with their last use, revoked.
// A key acts for its creator with at most the creator's role; an admin sees its tenant's keys with their creators.
import { useForm } from "react-hook-form";
import type { ApiKey, ApiKeyCreate, ApiKeyCreated, Role } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, CopyButton, Field, Time, useTitle } from "../lib/controls";
import { isPlatformAdmin, useCurrentSession } from "../lib/session";
import { useApiKeys, useCreateApiKey, useRevokeApiKey } from "./queries";

const DAY_S = 86_400;
/** The lives a key can be given here ("" : until it is revoked). */
const EXPIRIES = [
  { value: String(30 * DAY_S), label: "30 days" },
  { value: String(90 * DAY_S), label: "90 days" },
  { value: String(365 * DAY_S), label: "1 year" },
  { value: "", label: "never (until revoked)" },
] as const;
const MAX_NAME = 128;

interface Form {
  name: string;
  role: Role;
  expires: string;
}

export function ApiKeys() {
  useTitle("API keys");
  const session = useCurrentSession();
  const admin = session.role === "admin";
  const keys = useApiKeys();
  const revoke = useRevokeApiKey();
  return (
    <>
      <h1>API keys</h1>
      <p className="muted">
        A key lets a script use the API as you: send it as <code>Authorization: Bearer KEY</code>. It never has
        more rights than you, and stops working when revoked or when your account is disabled.
        {admin && " As an admin you see every key of your tenant and who made it."}
      </p>
      <NewKey admin={admin} />
      <section aria-labelledby="keys-heading">
        <h2 id="keys-heading">Keys</h2>
        <ErrorMessage error={keys.error} />
        <ErrorMessage error={revoke.error} />
        {keys.isPending && <p className="loading" role="status">Loading API keys…</p>}
        {keys.data !== undefined &&
          (keys.data.items.length === 0 ? (
            <p>No API keys.</p>
          ) : (
            <KeyTable
              keys={keys.data.items}
              showCreator={admin}
              showTenant={isPlatformAdmin(session)}
              busy={revoke.isPending}
              onRevoke={(id) => { revoke.mutate(id); }}
            />
          ))}
      </section>
    </>
  );
}

function NewKey({ admin }: { admin: boolean }) {
  const create = useCreateApiKey();
  const { register, handleSubmit, formState, reset } = useForm<Form>({
    defaultValues: { name: "", role: "user", expires: EXPIRIES[0].value },
  });
  const submit = (values: Form) => {
    const body: ApiKeyCreate = { name: values.name.trim(), role: values.role };
    if (values.expires !== "") body.expires_in_s = Number(values.expires);
    create.mutate(body, { onSuccess: () => { reset(); } });
  };
  return (
    <section aria-labelledby="new-key-heading">
      <h2 id="new-key-heading">New API key</h2>
      <form className="panel" onSubmit={(e) => void handleSubmit(submit)(e)} noValidate aria-label="New API key">
        <div className="form-row">
          <Field label="Key name" hint="What uses it, e.g. nightly export" error={formState.errors.name?.message}>
            {(props) => (
              <input
                {...props}
                autoComplete="off"
                {...register("name", {
                  validate: (v) => v.trim() !== "" || "Enter a name",
                  maxLength: { value: MAX_NAME, message: `At most ${MAX_NAME} characters` },
                })}
              />
            )}
          </Field>
          <Field label="Key role" hint={admin ? "At most your own role" : "Yours: user"}>
            {(props) => (
              <select {...props} {...register("role")}>
                <option value="user">user</option>
                {admin && <option value="admin">admin</option>}
              </select>
            )}
          </Field>
          <Field label="Expires after">
            {(props) => (
              <select {...props} {...register("expires")}>
                {EXPIRIES.map((e) => <option key={e.label} value={e.value}>{e.label}</option>)}
              </select>
            )}
          </Field>
          <div className="field">
            <button type="submit" disabled={create.isPending}>Create API key</button>
          </div>
        </div>
        <ErrorMessage error={create.error} />
      </form>
      {create.data !== undefined && <OneTimeKey apiKey={create.data} onDone={() => { create.reset(); }} />}
    </section>
  );
}

/** The key itself, which only the answer that made it holds. */
function OneTimeKey({ apiKey, onDone }: { apiKey: ApiKeyCreated; onDone: () => void }) {
  return (
    <section className="secret" aria-label="New API key, shown once">
      <h3>API key {apiKey.name}</h3>
      <p>
        <strong>Shown once:</strong> copy the key now. The hub keeps only its hash and cannot show it again; if it is
        lost, revoke it and make another. Role {apiKey.role}, expires <Time value={apiKey.expires} />.
      </p>
      <Field label="API key">
        {(props) => (
          <span className="secret-value">
            <input {...props} readOnly value={apiKey.key} className="code" />
            <CopyButton text={apiKey.key} label="Copy API key" />
          </span>
        )}
      </Field>
      <button type="button" className="secondary" onClick={onDone}>Done</button>
    </section>
  );
}

function KeyTable({
  keys,
  showCreator,
  showTenant,
  busy,
  onRevoke,
}: {
  keys: ApiKey[];
  showCreator: boolean;
  showTenant: boolean;
  busy: boolean;
  onRevoke: (id: string) => void;
}) {
  return (
    <div className="table-wrap">
      <table className="data" aria-label="API keys">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            {showCreator && <th scope="col">Created by</th>}
            {showTenant && <th scope="col">Tenant</th>}
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id}>
              <th scope="row">{key.name}</th>
              <td>{key.role}</td>
              {showCreator && <td>{key.creator}</td>}
              {showTenant && <td>{key.tenant ?? <span className="muted">none (platform)</span>}</td>}
              <td><Time value={key.created} /></td>
              <td><Time value={key.expires} /></td>
              <td><Time value={key.last_used} /></td>
              <td>
                <ConfirmButton
                  label="Revoke"
                  name={`Revoke ${key.name}`}
                  confirmLabel="Revoke key"
                  question={`Revoke ${key.name}? Scripts using it are refused at once.`}
                  onConfirm={() => { onRevoke(key.id); }}
                  disabled={busy}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
