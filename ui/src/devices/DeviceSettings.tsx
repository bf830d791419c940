// What can be done to a device itself: rename and relabel, enable or disable, rotate credentials, delete.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { useNavigate } from "react-router";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, Field } from "../lib/controls";
import { ProfileSelect } from "../profiles/ProfileSelect";
import { OneTimeCredentials } from "./OneTimeCredentials";
import { LabelsField } from "./LabelsField";
import { formatLabels, labelsRule, parseLabels } from "./parse";
import { deleteDevice, deviceKeys, patchDevice, rotateCredentials, type Device } from "./queries";

function EditDevice({ device }: { device: Device }) {
  const client = useQueryClient();
  const { register, handleSubmit, formState, reset } = useForm<{ name: string; labels: string }>({
    defaultValues: { name: device.name, labels: formatLabels(device.labels ?? {}) },
  });
  const save = useMutation({
    mutationFn: (form: { name: string; labels: string }) => {
      const labels = parseLabels(form.labels);
      if (!labels.ok) throw new Error(labels.error);
      return patchDevice(device.id, { name: form.name.trim(), labels: labels.value });
    },
    onSuccess: (updated) => {
      client.setQueryData(deviceKeys.one(device.id), updated);
      reset({ name: updated.name, labels: formatLabels(updated.labels ?? {}) });
      void client.invalidateQueries({ queryKey: [...deviceKeys.all, "list"] });
    },
  });
  const errors = formState.errors;
  return (
    <form
      noValidate
      aria-label="Name and labels"
      onSubmit={(event) => {
        void handleSubmit((form) => { save.mutate(form); })(event);
      }}
    >
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
      <LabelsField
        rows={4}
        error={errors.labels?.message}
        registration={register("labels", labelsRule)}
      />
      <ErrorMessage error={save.error} />
      {save.isSuccess && !formState.isDirty && <p className="notice" role="status">Saved.</p>}
      <button type="submit" disabled={save.isPending}>
        {save.isPending ? "Saving…" : "Save name and labels"}
      </button>
    </form>
  );
}

/** The device's profile: its keys and starting labels; changing it keeps the device's labels as they are. */
function DeviceProfile({ device }: { device: Device }) {
  const client = useQueryClient();
  const current = device.profile ?? "";
  const { register, handleSubmit, reset, formState } = useForm<{ profile: string }>({ defaultValues: { profile: current } });
  const save = useMutation({
    mutationFn: (form: { profile: string }) => patchDevice(device.id, { profile: form.profile }),
    onSuccess: (updated) => {
      client.setQueryData(deviceKeys.one(device.id), updated);
      reset({ profile: updated.profile ?? "" });
    },
  });
  return (
    <form
      noValidate
      aria-label="Profile"
      onSubmit={(event) => {
        void handleSubmit((form) => { save.mutate(form); })(event);
      }}
    >
      <ProfileSelect tenant={device.tenant} current={current} registration={register("profile")} />
      <ErrorMessage error={save.error} />
      {save.isSuccess && !formState.isDirty && <p className="notice" role="status">Profile saved.</p>}
      <button type="submit" disabled={save.isPending}>{save.isPending ? "Saving…" : "Save profile"}</button>
    </form>
  );
}

export function DeviceSettings({ device }: { device: Device }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const toggle = useMutation({
    mutationFn: (enabled: boolean) => patchDevice(device.id, { enabled }),
    onSuccess: (updated) => {
      client.setQueryData(deviceKeys.one(device.id), updated);
      void client.invalidateQueries({ queryKey: [...deviceKeys.all, "list"] });
    },
  });
  const rotate = useMutation({ mutationFn: () => rotateCredentials(device.id) });
  const remove = useMutation({
    mutationFn: () => deleteDevice(device.id),
    onSuccess: () => {
      void navigate("/devices");
      client.removeQueries({ queryKey: deviceKeys.one(device.id) });
      void client.invalidateQueries({ queryKey: [...deviceKeys.all, "list"] });
    },
  });

  return (
    <section aria-labelledby="settings-heading">
      <h2 id="settings-heading">Settings</h2>
      <div className="panel">
        <EditDevice device={device} />
      </div>
      <div className="panel">
        <DeviceProfile device={device} />
      </div>
      <div className="panel">
        <h3>Access</h3>
        <p>
          {device.enabled
            ? "The device may connect. Disabling it refuses it and ends its session."
            : "The device is disabled: the broker refuses it."}
        </p>
        <p>
          <button
            type="button"
            className={device.enabled ? "secondary" : ""}
            disabled={toggle.isPending}
            onClick={() => { toggle.mutate(!device.enabled); }}
          >
            {device.enabled ? "Disable device" : "Enable device"}
          </button>
        </p>
        <ErrorMessage error={toggle.error} />
        <p>
          <ConfirmButton
            label="Rotate credentials"
            confirmLabel="Rotate now"
            question="The current password stops working at once and the device is disconnected. Rotate?"
            disabled={rotate.isPending}
            onConfirm={() => { rotate.mutate(); }}
          />
        </p>
        <ErrorMessage error={rotate.error} />
        {rotate.data !== undefined && <OneTimeCredentials credentials={rotate.data} title="New credentials" />}
      </div>
      <div className="panel">
        <h3>Delete</h3>
        <p>Deleting the device also deletes its telemetry and state, and ends its session.</p>
        <ConfirmButton
          label="Delete device"
          confirmLabel="Delete for good"
          question={`Delete ${device.id} with all its data?`}
          disabled={remove.isPending}
          onConfirm={() => { remove.mutate(); }}
        />
        <ErrorMessage error={remove.error} />
      </div>
    </section>
  );
}
