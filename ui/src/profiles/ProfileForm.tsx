// Create or edit a device profile: its keys (name, type, unit, plausible range), the labels its devices start with,
// and whether readings that do not fit are refused (strict) or only counted (lenient).
import { useId } from "react";
import { useFieldArray, useForm } from "react-hook-form";
import type { KeySpec, Profile, ProfileCreate, ValueType } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field } from "../lib/controls";
import { LabelsField } from "../devices/LabelsField";
import { formatLabels, labelsRule, parseLabels, type Parsed } from "../devices/parse";
import { useSaveProfile } from "./queries";

interface KeyRow {
  name: string;
  type: ValueType;
  unit: string;
  min: string;
  max: string;
}

interface Form {
  name: string;
  id: string;
  description: string;
  strict: boolean;
  labels: string;
  keys: KeyRow[];
}

const TYPES: ValueType[] = ["number", "boolean", "string"];

function formOf(profile: Profile | undefined): Form {
  return {
    name: profile?.name ?? "",
    id: profile?.id ?? "",
    description: profile?.description ?? "",
    strict: profile?.strict ?? false,
    labels: formatLabels(profile?.labels ?? {}),
    keys: Object.entries(profile?.keys ?? {}).map(([name, spec]) => ({
      name,
      type: spec.type,
      unit: spec.unit ?? "",
      min: spec.min === null || spec.min === undefined ? "" : String(spec.min),
      max: spec.max === null || spec.max === undefined ? "" : String(spec.max),
    })),
  };
}

/** A bound as typed (null when empty; the text itself when it is no number, for the API to refuse). */
function bound(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : (trimmed as unknown as number);
}

function bodyOf(form: Form): Parsed<ProfileCreate> {
  const labels = parseLabels(form.labels);
  if (!labels.ok) return labels;
  const keys: Record<string, KeySpec> = {};
  for (const row of form.keys) {
    const name = row.name.trim();
    if (name === "") continue;
    if (Object.hasOwn(keys, name)) return { ok: false, error: `The key "${name}" is given twice` };
    keys[name] = {
      type: row.type,
      unit: row.unit.trim() === "" ? null : row.unit.trim(),
      min: bound(row.min),
      max: bound(row.max),
    };
  }
  const id = form.id.trim();
  return {
    ok: true,
    value: {
      name: form.name.trim(),
      description: form.description,
      strict: form.strict,
      labels: labels.value,
      keys,
      ...(id === "" ? {} : { id }),
    },
  };
}

export function ProfileForm({ profile, onDone }: { profile?: Profile; onDone: () => void }) {
  const save = useSaveProfile();
  const ids = useId();
  const { register, control, handleSubmit, formState, setError } = useForm<Form>({ defaultValues: formOf(profile) });
  const keys = useFieldArray({ control, name: "keys" });
  const errors = formState.errors;
  const title = profile === undefined ? "Create a profile" : `Edit profile ${profile.name}`;
  return (
    <section className="panel" aria-label={title}>
      <h2>{title}</h2>
      <form
        noValidate
        onSubmit={(event) => {
          void handleSubmit((form) => {
            const body = bodyOf(form);
            if (!body.ok) {
              setError("root", { message: body.error });
              return;
            }
            save.mutate({ ...(profile === undefined ? {} : { profile }), body: body.value }, { onSuccess: onDone });
          })(event);
        }}
      >
        <div className="form-row">
          <Field label="Name" error={errors.name?.message}>
            {(props) => (
              <input {...props} autoComplete="off" {...register("name", { validate: (v) => v.trim() !== "" || "Give the profile a name" })} />
            )}
          </Field>
          {profile === undefined && (
            <Field label="ID (optional)" hint="Generated when empty">
              {(props) => <input {...props} autoComplete="off" {...register("id")} />}
            </Field>
          )}
        </div>
        <Field label="Description (optional)">
          {(props) => <input {...props} autoComplete="off" maxLength={500} className="wide" {...register("description")} />}
        </Field>
        <fieldset>
          <legend>Telemetry keys</legend>
          <div className="table-wrap">
            <table className="data" aria-label="Keys">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Type</th>
                  <th scope="col">Unit</th>
                  <th scope="col">Min</th>
                  <th scope="col">Max</th>
                  <th scope="col">Remove</th>
                </tr>
              </thead>
              <tbody>
                {keys.fields.map((field, index) => {
                  const n = String(index + 1);
                  return (
                    <tr key={field.id}>
                      <td><input aria-label={`Key ${n} name`} autoComplete="off" {...register(`keys.${index}.name`)} /></td>
                      <td>
                        <select aria-label={`Key ${n} type`} {...register(`keys.${index}.type`)}>
                          {TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
                        </select>
                      </td>
                      <td><input aria-label={`Key ${n} unit`} autoComplete="off" maxLength={32} {...register(`keys.${index}.unit`)} /></td>
                      <td><input aria-label={`Key ${n} min`} type="number" step="any" {...register(`keys.${index}.min`)} /></td>
                      <td><input aria-label={`Key ${n} max`} type="number" step="any" {...register(`keys.${index}.max`)} /></td>
                      <td>
                        <button type="button" className="secondary" aria-label={`Remove key ${n}`} onClick={() => { keys.remove(index); }}>
                          Remove
                        </button>
                      </td>
                    </tr>
                  );
                })}
                {keys.fields.length === 0 && (
                  <tr><td colSpan={6} className="muted">No keys declared.</td></tr>
                )}
              </tbody>
            </table>
          </div>
          <p>
            <button
              type="button"
              className="secondary"
              onClick={() => { keys.append({ name: "", type: "number", unit: "", min: "", max: "" }); }}
            >
              Add key
            </button>
          </p>
        </fieldset>
        <LabelsField rows={3} error={errors.labels?.message} registration={register("labels", labelsRule)} />
        <p className="muted">A device created with this profile starts with these labels; its own labels win key by key.</p>
        <div className="check">
          <input id={`${ids}-strict`} type="checkbox" aria-describedby={`${ids}-strict-hint`} {...register("strict")} />
          <div>
            <label htmlFor={`${ids}-strict`}>Strict</label>
            <p id={`${ids}-strict-hint`} className="muted">
              Strict: a reading with an undeclared key, a value of another type or a number outside its min and max is
              refused. Lenient (unticked): it is stored and counted as flagged, so drift shows before you turn strict on.
            </p>
          </div>
        </div>
        <ErrorMessage error={errors.root?.message} />
        <ErrorMessage error={save.error} />
        <p>
          <button type="submit" disabled={save.isPending}>
            {save.isPending ? "Saving…" : profile === undefined ? "Create profile" : "Save profile"}
          </button>{" "}
          <button type="button" className="secondary" onClick={onDone}>Cancel</button>
        </p>
      </form>
    </section>
  );
}
