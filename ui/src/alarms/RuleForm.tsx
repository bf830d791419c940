// Create or edit a rule: every kind with its own fields, what it watches, how it clears, whom it tells. The API
// checks the whole (a refusal is shown in its words); this form only offers the choices that exist.
import { useId } from "react";
import { useForm, useWatch } from "react-hook-form";
import type { Rule } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field } from "../lib/controls";
import { homeTenant, useCurrentSession } from "../lib/session";
import { labelsRule } from "../devices/parse";
import { useTenantProfiles } from "../profiles/queries";
import { useChannels, useSaveRule } from "./queries";
import { bodyOf, formOf, type RuleForm as Form } from "./ruleForm";
import {
  HEARTBEAT_FIGURES,
  KIND_WORDS,
  NOTIFY_WORDS,
  OPERATORS,
  RULE_KINDS,
  SEVERITIES,
  SOURCES,
  STATES,
  TEMPLATE_FIELDS,
} from "./words";

/** `tenant`: a platform admin's choice (null: none, or a tenant user); a new rule goes there, an edited one stays. */
export function RuleForm({ rule, tenant: chosen, onDone }: { rule?: Rule; tenant: string | null; onDone: () => void }) {
  const session = useCurrentSession();
  const tenant = rule?.tenant ?? chosen ?? homeTenant(session);
  const profiles = useTenantProfiles(tenant);
  const channels = (useChannels(chosen).data?.items ?? []).filter((c) => c.tenant === tenant);
  const save = useSaveRule();
  const keysList = useId();
  const { register, handleSubmit, control, setValue, formState } = useForm<Form>({ defaultValues: formOf(rule) });
  const [target, source, kind, clearMode, profileId] = useWatch({
    control,
    name: ["target", "source", "kind", "clearMode", "profile"],
  });
  const profileKeys = Object.keys(profiles.find((p) => p.id === profileId)?.keys ?? {});
  const errors = formState.errors;
  const title = rule === undefined ? "Create a rule" : `Edit rule ${rule.name}`;
  const compared = kind === "threshold" || kind === "rate";

  return (
    <section className="panel" aria-label={title}>
      <h2>{title}</h2>
      {chosen !== null && <p className="muted">In tenant {tenant}.</p>}
      <form
        noValidate
        onSubmit={(event) => {
          void handleSubmit((form) => {
            const body = bodyOf(form);
            if (!body.ok) return;
            save.mutate({ ...(rule === undefined ? {} : { rule }), tenant: chosen, body: body.value }, { onSuccess: onDone });
          })(event);
        }}
      >
        <div className="form-row">
          <Field label="Name" error={errors.name?.message}>
            {(props) => (
              <input {...props} autoComplete="off" {...register("name", { validate: (v) => v.trim() !== "" || "Give the rule a name" })} />
            )}
          </Field>
          {rule === undefined && (
            <Field label="ID (optional)" hint="Generated when empty">
              {(props) => <input {...props} autoComplete="off" {...register("id")} />}
            </Field>
          )}
          <div className="check">
            <input id={`${keysList}-enabled`} type="checkbox" {...register("enabled")} />
            <label htmlFor={`${keysList}-enabled`}>Enabled (a disabled rule is kept but not evaluated)</label>
          </div>
        </div>

        <fieldset>
          <legend>Devices it watches</legend>
          <div className="checks" role="radiogroup" aria-label="Devices it watches">
            <label><input type="radio" value="profile" {...register("target")} /> Devices of a profile</label>
            <label><input type="radio" value="selector" {...register("target")} /> Devices with labels</label>
          </div>
          {target === "profile" ? (
            <Field label="Profile" hint={profiles.length === 0 ? "No profiles yet: make one on the profiles page" : undefined}>
              {(props) => (
                <select {...props} {...register("profile")}>
                  <option value="">choose a profile</option>
                  {profiles.map((p) => <option key={p.id} value={p.id}>{p.name === p.id ? p.id : `${p.name} (${p.id})`}</option>)}
                </select>
              )}
            </Field>
          ) : (
            <Field label="Selector labels" hint="One key=value per line; a device needs them all. Empty: every device" error={errors.selector?.message}>
              {(props) => <textarea {...props} className="code" rows={2} {...register("selector", labelsRule)} />}
            </Field>
          )}
        </fieldset>

        <fieldset>
          <legend>Condition</legend>
          <div className="form-row">
            <Field label="Source">
              {(props) => (
                <select
                  {...props}
                  {...register("source", { onChange: () => { setValue("key", ""); } })}
                >
                  {SOURCES.map((s) => <option key={s} value={s}>{s === "heartbeat" ? "gateway heartbeat" : "telemetry"}</option>)}
                </select>
              )}
            </Field>
            <Field label="Kind">
              {(props) => (
                <select {...props} {...register("kind")}>
                  {RULE_KINDS.map((k) => <option key={k} value={k}>{KIND_WORDS[k]}</option>)}
                </select>
              )}
            </Field>
            {source === "heartbeat" ? (
              <Field label="Heartbeat figure">
                {(props) => (
                  <select {...props} {...register("key")}>
                    <option value="">{kind === "no_data" ? "none: the heartbeats stop" : "choose a figure"}</option>
                    {HEARTBEAT_FIGURES.map((f) => <option key={f} value={f}>{f}</option>)}
                  </select>
                )}
              </Field>
            ) : (
              <Field label="Key" hint={kind === "no_data" ? "Optional: without it, any message" : "A telemetry key"}>
                {(props) => <input {...props} autoComplete="off" list={keysList} {...register("key")} />}
              </Field>
            )}
            <datalist id={keysList}>{profileKeys.map((k) => <option key={k} value={k} />)}</datalist>
          </div>
          {compared && (
            <div className="form-row">
              <Field label="Operator">
                {(props) => (
                  <select {...props} {...register("op")}>
                    {OPERATORS.map((o) => <option key={o} value={o}>{o}</option>)}
                  </select>
                )}
              </Field>
              <Field
                label={kind === "rate" ? "Change per second" : "Value"}
                hint={kind === "rate" ? "A number" : "A number; for == and != also true, false or a text"}
              >
                {(props) => <input {...props} autoComplete="off" {...register("value")} />}
              </Field>
            </div>
          )}
          {kind === "range" && (
            <div className="form-row">
              <Field label="Low">{(props) => <input {...props} type="number" step="any" {...register("low")} />}</Field>
              <Field label="High">{(props) => <input {...props} type="number" step="any" {...register("high")} />}</Field>
              <div className="check">
                <input id={`${keysList}-inside`} type="checkbox" {...register("inside")} />
                <label htmlFor={`${keysList}-inside`}>Raise inside the range (instead of outside)</label>
              </div>
            </div>
          )}
          {kind === "no_data" && (
            <Field label="Silence (seconds)" hint="Raise when nothing arrives for this long">
              {(props) => <input {...props} type="number" min={1} step="any" {...register("silence_s")} />}
            </Field>
          )}
          <Field label="For (seconds)" hint="How long the condition must hold before the alarm is raised; 0: at once">
            {(props) => <input {...props} type="number" min={0} step="any" {...register("for_s")} />}
          </Field>
        </fieldset>

        {kind !== "no_data" && (
          <fieldset>
            <legend>Clearing</legend>
            <div className="checks" role="radiogroup" aria-label="Clearing">
              <label><input type="radio" value="plain" {...register("clearMode")} /> When the condition no longer holds</label>
              <label><input type="radio" value="hysteresis" {...register("clearMode")} /> Back past the limit by a hysteresis</label>
              <label><input type="radio" value="condition" {...register("clearMode")} /> When a clear condition holds</label>
            </div>
            {clearMode === "hysteresis" && (
              <Field label="Hysteresis">
                {(props) => <input {...props} type="number" min={0} step="any" {...register("hysteresis")} />}
              </Field>
            )}
            {clearMode === "condition" && (
              <div className="form-row">
                <Field label="Clear operator">
                  {(props) => (
                    <select {...props} {...register("clearOp")}>
                      {OPERATORS.map((o) => <option key={o} value={o}>{o}</option>)}
                    </select>
                  )}
                </Field>
                <Field label="Clear value">{(props) => <input {...props} autoComplete="off" {...register("clearValue")} />}</Field>
              </div>
            )}
          </fieldset>
        )}

        <fieldset>
          <legend>Alarm and notifications</legend>
          <Field label="Severity">
            {(props) => (
              <select {...props} {...register("severity")}>
                {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
              </select>
            )}
          </Field>
          <Field
            label="Message template"
            hint={`Fields: ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(" ")}; a format may follow, as {value:.1f}`}
          >
            {(props) => <input {...props} autoComplete="off" maxLength={500} className="code" {...register("message")} />}
          </Field>
          <fieldset>
            <legend>Channels to tell</legend>
            {channels.length === 0 ? (
              <p className="muted">No channels yet: make one on the channels page.</p>
            ) : (
              <div className="checks">
                {channels.map((c) => (
                  <label key={c.id}>
                    <input type="checkbox" value={c.id} {...register("channels")} /> {c.name} ({c.kind})
                  </label>
                ))}
              </div>
            )}
          </fieldset>
          <fieldset>
            <legend>Tell them when the alarm is</legend>
            <div className="checks">
              {STATES.map((s) => (
                <label key={s}>
                  <input type="checkbox" value={s} {...register("notify_on")} /> {NOTIFY_WORDS[s]}
                </label>
              ))}
            </div>
          </fieldset>
        </fieldset>
        <ErrorMessage error={save.error} />
        <p>
          <button type="submit" disabled={save.isPending}>
            {save.isPending ? "Saving…" : rule === undefined ? "Create rule" : "Save rule"}
          </button>{" "}
          <button type="button" className="secondary" onClick={onDone}>Cancel</button>
        </p>
      </form>
    </section>
  );
}
