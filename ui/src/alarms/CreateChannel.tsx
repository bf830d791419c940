// Create a channel in the chosen tenant (ChannelFields: the kind decides the fields). A webhook's signing secret is
// in the answer only: it is shown here once, with a copy button.
import { useForm } from "react-hook-form";
import type { ChannelCreated } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { CopyButton, Field } from "../lib/controls";
import { ChannelFields, channelFormOf, targetOf, type ChannelForm } from "./ChannelFields";
import { useCreateChannel } from "./queries";

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

/** `tenant`: a platform admin's choice (null: the API's default, the caller's own tenant or `default`). */
export function CreateChannel({ tenant, onClose }: { tenant: string | null; onClose: () => void }) {
  const create = useCreateChannel();
  const form = useForm<ChannelForm>({ defaultValues: channelFormOf() });
  if (create.data !== undefined) return <Secret channel={create.data} onDone={onClose} />;
  return (
    <section className="panel" aria-label="Create a channel">
      <h2>Create a channel</h2>
      {tenant !== null && <p className="muted">In tenant {tenant}.</p>}
      <form
        noValidate
        onSubmit={(event) => {
          void form.handleSubmit((values) => {
            const body = { name: values.name.trim(), target: targetOf(values), rate_per_min: values.rate_per_min, enabled: values.enabled };
            create.mutate({ tenant, body });
          })(event);
        }}
      >
        <ChannelFields form={form} error={create.error} />
        <ErrorMessage error={create.error} />
        <p>
          <button type="submit" disabled={create.isPending}>{create.isPending ? "Creating…" : "Create channel"}</button>{" "}
          <button type="button" className="secondary" onClick={onClose}>Cancel</button>
        </p>
      </form>
    </section>
  );
}
