// Tenants, for the platform admin: listed, created, renamed, their retention set, and deleted when empty (the
// API's 409 says what is left otherwise, shown in its words).
import { useState } from "react";
import { useForm } from "react-hook-form";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, Field, Time } from "../lib/controls";
import { RetentionForm, retentionText } from "./TenantRetention";
import { useCreateTenant, useDeleteTenant, useTenants, useUpdateTenant, type Tenant } from "./queries";

interface Form {
  name: string;
  id: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_NAME = 128;
/** The tenant every hub has; the API refuses to delete it. */
const DEFAULT_TENANT = "default";

export function Tenants() {
  const tenants = useTenants();
  const create = useCreateTenant();
  const { register, handleSubmit, formState, reset } = useForm<Form>({ defaultValues: { name: "", id: "" } });
  const submit = (values: Form) => {
    const id = values.id.trim();
    create.mutate(id === "" ? { name: values.name.trim() } : { name: values.name.trim(), id }, {
      onSuccess: () => { reset(); },
    });
  };
  return (
    <section aria-labelledby="tenants-heading">
      <h2 id="tenants-heading">Tenants</h2>
      <form className="panel" onSubmit={(e) => void handleSubmit(submit)(e)} noValidate aria-label="New tenant">
        <div className="form-row">
          <Field label="Tenant name" error={formState.errors.name?.message}>
            {(props) => <input {...props} {...register("name", { required: "Enter a name", maxLength: { value: MAX_NAME, message: `At most ${MAX_NAME} characters` } })} />}
          </Field>
          <Field label="Tenant id (optional)" hint="Letters, digits, ., - and _; generated when empty" error={formState.errors.id?.message}>
            {(props) => (
              <input
                {...props}
                {...register("id", {
                  validate: (v) => v.trim() === "" || ID_PATTERN.test(v.trim()) || "Letters, digits, ., - and _ (up to 64), starting with a letter or digit",
                })}
              />
            )}
          </Field>
          <div className="field">
            <button type="submit" disabled={create.isPending}>Create tenant</button>
          </div>
        </div>
        <ErrorMessage error={create.error} />
        {create.data !== undefined && <p className="notice" role="status">Tenant {create.data.id} created.</p>}
      </form>
      <ErrorMessage error={tenants.error} />
      {tenants.data !== undefined && (
        <div className="table-wrap">
          <table className="data" aria-label="Tenants">
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Telemetry kept</th>
                <th scope="col">Logs kept</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {tenants.data.items.map((t) => <TenantRow key={t.id} tenant={t} />)}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** The one form a row has open, if any. */
type Editing = "" | "name" | "retention";

function TenantRow({ tenant }: { tenant: Tenant }) {
  const rename = useUpdateTenant(tenant.id);
  const retain = useUpdateTenant(tenant.id);
  const remove = useDeleteTenant(tenant.id);
  const [editing, setEditing] = useState<Editing>("");
  const [done, setDone] = useState("");
  const edit = (what: Editing) => {
    setEditing(what);
    setDone("");
    rename.reset();
    retain.reset();
  };
  return (
    <tr>
      <th scope="row">{tenant.id}</th>
      <td>{tenant.name}</td>
      <td><Time value={tenant.created} /></td>
      <td>{retentionText(tenant.telemetry_days)}</td>
      <td>{retentionText(tenant.logs_days)}</td>
      <td>
        <div className="toolbar">
          {editing === "name" && (
            <RenameForm
              tenant={tenant}
              busy={rename.isPending}
              onCancel={() => { edit(""); }}
              onSubmit={(name) => {
                rename.mutate(
                  { name },
                  { onSuccess: (renamed) => { setEditing(""); setDone(`Tenant ${renamed.id} is now called ${renamed.name}.`); } },
                );
              }}
            />
          )}
          {editing === "retention" && (
            <RetentionForm
              tenant={tenant}
              busy={retain.isPending}
              onCancel={() => { edit(""); }}
              onSubmit={(retention) => {
                retain.mutate(retention, {
                  onSuccess: (kept) => {
                    setEditing("");
                    setDone(
                      `Tenant ${kept.id} keeps telemetry: ${retentionText(kept.telemetry_days)}, logs: ${retentionText(kept.logs_days)}.`,
                    );
                  },
                });
              }}
            />
          )}
          {editing === "" && (
            <>
              <div className="field">
                <button type="button" className="secondary" aria-label={`Rename ${tenant.id}`} onClick={() => { edit("name"); }}>
                  Rename
                </button>
              </div>
              <div className="field">
                <button
                  type="button"
                  className="secondary"
                  aria-label={`Retention of ${tenant.id}`}
                  onClick={() => { edit("retention"); }}
                >
                  Retention
                </button>
              </div>
            </>
          )}
          {tenant.id !== DEFAULT_TENANT && (
            <div className="field">
              <ConfirmButton
                label="Delete"
                name={`Delete tenant ${tenant.id}`}
                confirmLabel="Delete tenant"
                question={`Delete tenant ${tenant.id}? Only an empty tenant can be deleted.`}
                onConfirm={() => { setDone(""); remove.mutate(); }}
                disabled={remove.isPending}
              />
            </div>
          )}
        </div>
        <ErrorMessage error={rename.error} />
        <ErrorMessage error={retain.error} />
        <ErrorMessage error={remove.error} />
        {done !== "" && <p className="notice" role="status">{done}</p>}
      </td>
    </tr>
  );
}

function RenameForm({
  tenant,
  busy,
  onSubmit,
  onCancel,
}: {
  tenant: Tenant;
  busy: boolean;
  onSubmit: (name: string) => void;
  onCancel: () => void;
}) {
  const { register, handleSubmit, formState } = useForm<{ name: string }>({ defaultValues: { name: tenant.name } });
  return (
    <form
      className="form-row"
      aria-label={`Rename tenant ${tenant.id}`}
      onSubmit={(e) => void handleSubmit((values) => { onSubmit(values.name.trim()); })(e)}
      noValidate
    >
      <Field label={`New name of ${tenant.id}`} error={formState.errors.name?.message}>
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
      <div className="field">
        <button type="submit" disabled={busy}>Save name</button>
      </div>
      <div className="field">
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
