// Send a command to the device and show its answer, or why there is none (offline, timeout, refused).
import { useMutation } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field } from "../lib/controls";
import { parseJsonObject } from "./parse";
import { sendCommand } from "./queries";

interface CommandFormValues {
  name: string;
  params: string;
  timeout: string;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function checkTimeout(text: string): string | true {
  if (text.trim() === "") return true;
  const seconds = Number(text);
  return Number.isFinite(seconds) && seconds > 0 && seconds <= 300 ? true : "Between 0 and 300 seconds";
}

export function CommandForm({ deviceId }: { deviceId: string }) {
  const { register, handleSubmit, formState } = useForm<CommandFormValues>({
    defaultValues: { name: "", params: "{}", timeout: "" },
  });
  const send = useMutation({
    mutationFn: (form: CommandFormValues) => {
      const params = parseJsonObject(form.params);
      if (!params.ok) throw new Error(params.error);
      const timeout = form.timeout.trim() === "" ? undefined : Number(form.timeout);
      return sendCommand(deviceId, form.name.trim(), params.value, timeout);
    },
  });
  const errors = formState.errors;
  return (
    <section aria-labelledby="command-heading">
      <h2 id="command-heading">Send a command</h2>
      <form
        noValidate
        onSubmit={(event) => {
          void handleSubmit((form) => { send.mutate(form); })(event);
        }}
      >
        <div className="form-row">
          <Field label="Command name" error={errors.name?.message}>
            {(props) => (
              <input
                {...props}
                autoComplete="off"
                {...register("name", {
                  validate: (v) => NAME_PATTERN.test(v.trim()) || "Letters, digits, _ . - (at most 64, starting with a letter or digit)",
                })}
              />
            )}
          </Field>
          <Field label="Timeout (seconds)" hint="Empty: the hub's default" error={errors.timeout?.message}>
            {(props) => <input {...props} inputMode="decimal" {...register("timeout", { validate: checkTimeout })} />}
          </Field>
        </div>
        <Field label="Parameters (JSON)" error={errors.params?.message}>
          {(props) => (
            <textarea
              {...props}
              className="code"
              rows={4}
              spellCheck={false}
              {...register("params", {
                validate: (text) => {
                  const parsed = parseJsonObject(text);
                  return parsed.ok || parsed.error;
                },
              })}
            />
          )}
        </Field>
        <button type="submit" disabled={send.isPending}>
          {send.isPending ? "Waiting for the answer…" : "Send command"}
        </button>
      </form>
      <ErrorMessage error={send.error} />
      {send.data !== undefined && (
        <div className={send.data.status === "ok" ? "notice" : "error"} role="status" aria-label="Command answer">
          <p>
            Answer: <strong>{send.data.status}</strong>
            {send.data.error !== null && <> — {send.data.error}</>}
          </p>
          {send.data.result !== null && <pre>{JSON.stringify(send.data.result, null, 2)}</pre>}
        </div>
      )}
    </section>
  );
}
