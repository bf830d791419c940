// The fields of a channel, shared by the create and edit forms: its kind decides the target's fields (a webhook's
// URL, e-mail recipients, an MQTT device, nothing for the streams). A problem the API lists for a field is shown
// beside it; the whole refusal stays below the form, in the API's words.
import { useWatch, type UseFormReturn } from "react-hook-form";
import type { Channel, ChannelKind, ChannelTarget } from "../lib/api";
import { ApiError } from "../lib/client";
import { Field } from "../lib/controls";
import { CHANNEL_KIND_WORDS, CHANNEL_KINDS } from "./words";

export interface ChannelForm {
  name: string;
  kind: ChannelKind;
  url: string;
  to: string;
  device: string;
  rate_per_min: number;
  enabled: boolean;
}

/** The form's values for a new channel, or for `channel` as it is. */
export function channelFormOf(channel?: Channel): ChannelForm {
  const form: ChannelForm = { name: "", kind: "webhook", url: "", to: "", device: "", rate_per_min: 30, enabled: true };
  if (channel === undefined) return form;
  const target = channel.target;
  return {
    ...form,
    name: channel.name,
    kind: target.kind,
    url: target.kind === "webhook" ? target.url : "",
    to: target.kind === "email" ? target.to.join("\n") : "",
    device: target.kind === "mqtt" ? target.device : "",
    rate_per_min: channel.rate_per_min,
    enabled: channel.enabled,
  };
}

export function targetOf(form: ChannelForm): ChannelTarget {
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

/** What the API said of one field (`name`, `url`...: a part of the problem's path, as `target.webhook.url`). */
function problemAt(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const problems = error.details.filter((d) => d.path.split(".").includes(field)).map((d) => d.problem);
  return problems.length === 0 ? undefined : problems.join("; ");
}

/**
 * The channel's fields inside a form of `form`; `error` is the API's answer to the last try. An existing channel
 * keeps its kind (`fixedKind`), which is then shown, not offered.
 */
export function ChannelFields({
  form,
  error,
  fixedKind = false,
}: {
  form: UseFormReturn<ChannelForm>;
  error: unknown;
  fixedKind?: boolean;
}) {
  const { register, control, formState } = form;
  const kind = useWatch({ control, name: "kind" });
  const errors = formState.errors;
  return (
    <>
      <div className="form-row">
        <Field label="Name" error={errors.name?.message ?? problemAt(error, "name")}>
          {(props) => (
            <input {...props} autoComplete="off" {...register("name", { validate: (v) => v.trim() !== "" || "Give the channel a name" })} />
          )}
        </Field>
        {fixedKind ? (
          <Field label="Kind" hint="A channel keeps its kind: make a new one for another">
            {(props) => <input {...props} readOnly value={CHANNEL_KIND_WORDS[kind]} />}
          </Field>
        ) : (
          <Field label="Kind">
            {(props) => (
              <select {...props} {...register("kind")}>
                {CHANNEL_KINDS.map((k) => <option key={k} value={k}>{CHANNEL_KIND_WORDS[k]}</option>)}
              </select>
            )}
          </Field>
        )}
        <Field
          label="At most a minute"
          hint="Notifications beyond are suppressed"
          error={errors.rate_per_min?.message ?? problemAt(error, "rate_per_min")}
        >
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
        <Field label="URL" hint="http:// or https://, takes a JSON POST" error={problemAt(error, "url")}>
          {(props) => <input {...props} type="url" autoComplete="off" className="wide" {...register("url")} />}
        </Field>
      )}
      {kind === "email" && (
        <Field label="Recipients" hint="E-mail addresses, one a line (at most 20)" error={problemAt(error, "to")}>
          {(props) => <textarea {...props} className="code" rows={3} {...register("to")} />}
        </Field>
      )}
      {kind === "mqtt" && (
        <Field label="Device" hint="One of your devices; it subscribes to devices/{device}/alarms" error={problemAt(error, "device")}>
          {(props) => <input {...props} autoComplete="off" {...register("device")} />}
        </Field>
      )}
      {kind === "stream" && <p className="muted">Written to the hub's northbound streams, beside the telemetry.</p>}
      <label className="check">
        <input type="checkbox" {...register("enabled")} /> Enabled
      </label>
    </>
  );
}
