// Desired and reported state: both shown as JSON; desired edited as JSON, checked to be an object before it is sent.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field, Time } from "../lib/controls";
import { parseJsonObject } from "./parse";
import { deviceKeys, getState, putDesired, type DeviceState, type StateDoc } from "./queries";

function StateView({ title, doc }: { title: string; doc: StateDoc | null }) {
  return (
    <div>
      <h3>{title}</h3>
      {doc === null ? (
        <p className="muted">None yet.</p>
      ) : (
        <>
          <p className="muted">
            Version {doc.version}, updated <Time value={doc.updated} />
          </p>
          <pre>{JSON.stringify(doc.state, null, 2)}</pre>
        </>
      )}
    </div>
  );
}

function DesiredEditor({ deviceId, current }: { deviceId: string; current: StateDoc | null }) {
  const client = useQueryClient();
  const { register, handleSubmit, formState, reset } = useForm<{ desired: string }>({
    defaultValues: { desired: JSON.stringify(current?.state ?? {}, null, 2) },
  });
  const save = useMutation({
    mutationFn: (text: string) => {
      const parsed = parseJsonObject(text);
      if (!parsed.ok) throw new Error(parsed.error);
      return putDesired(deviceId, parsed.value);
    },
    onSuccess: (doc) => {
      reset({ desired: JSON.stringify(doc.state, null, 2) });
      client.setQueryData<DeviceState>(deviceKeys.state(deviceId), (old) => ({ reported: old?.reported ?? null, desired: doc }));
    },
  });
  return (
    <form
      noValidate
      onSubmit={(event) => {
        void handleSubmit((form) => { save.mutate(form.desired); })(event);
      }}
    >
      <Field label="Desired state (JSON)" hint="A JSON object; it replaces the whole desired state" error={formState.errors.desired?.message}>
        {(props) => (
          <textarea
            {...props}
            className="code"
            rows={8}
            spellCheck={false}
            {...register("desired", {
              validate: (text) => {
                const parsed = parseJsonObject(text);
                return parsed.ok || parsed.error;
              },
            })}
          />
        )}
      </Field>
      <ErrorMessage error={save.error} />
      {save.isSuccess && !formState.isDirty && (
        <p className="notice" role="status">
          Desired state saved (version {save.data.version}).
        </p>
      )}
      <button type="submit" disabled={save.isPending}>
        {save.isPending ? "Saving…" : "Save desired state"}
      </button>
    </form>
  );
}

export function DeviceStateSection({ deviceId }: { deviceId: string }) {
  const state = useQuery({ queryKey: deviceKeys.state(deviceId), queryFn: ({ signal }) => getState(deviceId, signal), refetchInterval: 10_000 });
  return (
    <section aria-labelledby="state-heading">
      <h2 id="state-heading">State</h2>
      <ErrorMessage error={state.error} />
      {state.data === undefined ? (
        state.isPending && <p className="loading" role="status">Loading state…</p>
      ) : (
        <div className="state-grid">
          <StateView title="Reported" doc={state.data.reported} />
          <div>
            <StateView title="Desired" doc={state.data.desired} />
            <DesiredEditor deviceId={deviceId} current={state.data.desired} />
          </div>
        </div>
      )}
    </section>
  );
}
