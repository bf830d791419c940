// Register a device: name, optional id, kind and labels; the answer's one-time credentials are shown here.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { Link } from "react-router";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field } from "../lib/controls";
import { homeTenant, useCurrentSession } from "../lib/session";
import { ProfileSelect } from "../profiles/ProfileSelect";
import { LabelsField } from "./LabelsField";
import { labelsRule, parseLabels } from "./parse";
import { createDevice, deviceKeys, type DeviceKind } from "./queries";
import { OneTimeCredentials } from "./OneTimeCredentials";

interface CreateForm {
  name: string;
  id: string;
  kind: DeviceKind;
  labels: string;
  profile: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function CreateDevice({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const session = useCurrentSession();
  const { register, handleSubmit, formState } = useForm<CreateForm>({
    defaultValues: { name: "", id: "", kind: "device", labels: "", profile: "" },
  });
  const create = useMutation({
    mutationFn: (form: CreateForm) => {
      const labels = parseLabels(form.labels);
      if (!labels.ok) throw new Error(labels.error);
      const id = form.id.trim();
      return createDevice({
        name: form.name.trim(),
        kind: form.kind,
        labels: labels.value,
        ...(id === "" ? {} : { id }),
        ...(form.profile === "" ? {} : { profile: form.profile }),
      });
    },
    onSuccess: () => client.invalidateQueries({ queryKey: deviceKeys.all }),
  });
  const errors = formState.errors;

  if (create.data !== undefined) {
    const device = create.data;
    return (
      <section className="panel" aria-labelledby="created-heading">
        <h2 id="created-heading">Device {device.id} created</h2>
        <OneTimeCredentials credentials={device.credentials} title="Credentials of the new device" />
        <p>
          <Link to={`/devices/${encodeURIComponent(device.id)}`}>Open device {device.id}</Link>{" "}
          <button type="button" className="secondary" onClick={onClose}>
            Done
          </button>
        </p>
      </section>
    );
  }

  return (
    <section className="panel" aria-labelledby="create-heading">
      <h2 id="create-heading">Create a device</h2>
      <form
        noValidate
        onSubmit={(event) => {
          void handleSubmit((form) => { create.mutate(form); })(event);
        }}
      >
        <div className="form-row">
          <Field label="Name" error={errors.name?.message}>
            {(props) => (
              <input
                {...props}
                autoComplete="off"
                {...register("name", {
                  validate: (v) => (v.trim() === "" ? "Give the device a name" : v.length > 128 ? "At most 128 characters" : true),
                })}
              />
            )}
          </Field>
          <Field label="ID (optional)" hint="Generated when empty" error={errors.id?.message}>
            {(props) => (
              <input
                {...props}
                autoComplete="off"
                {...register("id", {
                  validate: (v) =>
                    v.trim() === "" || ID_PATTERN.test(v.trim()) || "Letters, digits, _ . - (at most 64, starting with a letter or digit)",
                })}
              />
            )}
          </Field>
          <Field label="Kind">
            {(props) => (
              <select {...props} {...register("kind")}>
                <option value="device">device</option>
                <option value="gateway">gateway</option>
              </select>
            )}
          </Field>
          <ProfileSelect tenant={homeTenant(session)} registration={register("profile")} />
        </div>
        <LabelsField
          rows={3}
          error={errors.labels?.message}
          registration={register("labels", labelsRule)}
        />
        <ErrorMessage error={create.error} />
        <p>
          <button type="submit" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create"}
          </button>{" "}
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
        </p>
      </form>
    </section>
  );
}
