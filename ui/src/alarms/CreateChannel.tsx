// Create a channel: its kind decides the fields (a webhook's URL, e-mail recipients, an MQTT device, nothing for
// the streams). A webhook's signing secret is in the answer only: it is shown here once, with a copy button.
import { useForm, useWatch } from "react-hook-form";
import type { ChannelCreated, ChannelKind, ChannelTarget } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { CopyButton, Field } from "../lib/controls";
import { useCreateChannel } from "./queries";
import { CHANNEL_KIND_WORDS, CHANNEL_KINDS } from "./words";

interface Form {
  name: string;
  kind: ChannelKind;
  url: string;
  to: string;
  device: string;
  rate_per_min: number;
  enabled: boolean;
}

function targetOf(form: Form): ChannelTarget {
  switch (form.kind) {
    case "webhook":
      return { kind: "webhook", url: form.url.trim() };
    case "email":
      return { kind: "email", to: form.to.split(/[\s,;]+/).filter((a) => a !== "") };
    case "mqtt":
      return { kind: "mqtt", device: form.device.trim() };
    case "stream":
      return { kind: "stream" };
  }
}

function Secret({ channel, onDone }: { channel: ChannelCreated; onDone: () => void }) {
  return (
    <section className="secret" aria-label="Secret of the new channel">
      <h3>Channel {channel.name} created</h3>
      {channel.secret !== null && channel.secret !== undefined ? (
        <>
          <p>
            <strong>Shown once:</strong> copy the signing secret now. Each delivery is signed with it
            (<code>X-Fieldhub-Signature</code>); the hub cannot show it again.
          </p>
          <Field label="Signing secret">
            {(props) => (
              <span className="secret-value">
                <input {...props} readOnly value={channel.secret ?? ""} />
                <CopyButton text={channel.secret ?? ""} label="Copy signing secret" />
              </span>
            )}
          </Field>
        </>
      ) : (
        <p>It has no secret to keep.</p>
      )}
      <button type="button" className="secondary" onClick={onDone}>Done</button>
    </section>
  );
}

export function CreateChannel({ onClose }: { onClose: () => void }) {
  const create = useCreateChannel();
  const { register, handleSubmit, control, formState } = useForm<Form>({
    defaultValues: { name: "", kind: "webhook", url: "", to: "", device: "", rate_per_min: 30, enabled: true },
  });
  const kind = useWatch({ control, name: "kind" });
  const errors = formState.errors;
  if (create.data !== undefined) return <Secret channel={create.data} onDone={onClose} />;
  return (
    <section className="panel" aria-label="Create a channel">
      <h2>Create a channel</h2>
      <form
        noValidate
        onSubmit={(event) => {
          void handleSubmit((form) => {
            create.mutate({
              name: form.name.trim(),
              target: targetOf(form),
              rate_per_min: form.rate_per_min,
              enabled: form.enabled,
            });
          })(event);
        }}
      >
        <div className="form-row">
          <Field label="Name" error={errors.name?.message}>
            {(props) => (
              <input {...props} autoComplete="off" {...register("name", { validate: (v) => v.trim() !== "" || "Give the channel a name" })} />
            )}
          </Field>
          <Field label="Kind">
            {(props) => (
              <select {...props} {...register("kind")}>
                {CHANNEL_KINDS.map((k) => <option key={k} value={k}>{CHANNEL_KIND_WORDS[k]}</option>)}
              </select>
            )}
          </Field>
          <Field label="At most a minute" hint="Notifications beyond are suppressed" error={errors.rate_per_min?.message}>
            {(props) => (
              <input
                {...props}
                type="number"
                min={1}
                max={6000}
                {...register("rate_per_min", { valueAsNumber: true, required: "Enter a number" })}
              />
            )}
          </Field>
        </div>
        {kind === "webhook" && (
          <Field label="URL" hint="http:// or https://, takes a JSON POST">
            {(props) => <input {...props} type="url" autoComplete="off" className="wide" {...register("url")} />}
          </Field>
        )}
        {kind === "email" && (
          <Field label="Recipients" hint="E-mail addresses, one a line (at most 20)">
            {(props) => <textarea {...props} className="code" rows={3} {...register("to")} />}
          </Field>
        )}
        {kind === "mqtt" && (
          <Field label="Device" hint="One of your devices; it subscribes to devices/{device}/alarms">
            {(props) => <input {...props} autoComplete="off" {...register("device")} />}
          </Field>
        )}
        {kind === "stream" && <p className="muted">Written to the hub's northbound streams, beside the telemetry.</p>}
        <label className="check">
          <input type="checkbox" {...register("enabled")} /> Enabled
        </label>
        <ErrorMessage error={create.error} />
        <p>
          <button type="submit" disabled={create.isPending}>{create.isPending ? "Creating…" : "Create channel"}</button>{" "}
          <button type="button" className="secondary" onClick={onClose}>Cancel</button>
        </p>
      </form>
    </section>
  );
}
