// Edit a channel: its name, target (within its kind), rate limit and whether it is enabled. Only what was changed
// is sent (PATCH), so an unchanged target is not checked again; the API's refusal is shown in its words.
import { useForm } from "react-hook-form";
import type { Channel, ChannelPatch } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ChannelFields, channelFormOf, targetOf, type ChannelForm } from "./ChannelFields";
import { usePatchChannel } from "./queries";

export function EditChannel({ channel, onDone }: { channel: Channel; onDone: () => void }) {
  const patch = usePatchChannel();
  const form = useForm<ChannelForm>({ defaultValues: channelFormOf(channel) });
  const title = `Edit channel ${channel.name}`;
  return (
    <section className="panel" aria-label={title}>
      <h2>{title}</h2>
      <form
        noValidate
        onSubmit={(event) => {
          void form.handleSubmit((values) => {
            const before = channelFormOf(channel);
            const changes: ChannelPatch = {};
            if (values.name.trim() !== before.name) changes.name = values.name.trim();
            const target = targetOf(values);
            if (JSON.stringify(target) !== JSON.stringify(targetOf(before))) changes.target = target;
            if (values.rate_per_min !== before.rate_per_min) changes.rate_per_min = values.rate_per_min;
            if (values.enabled !== before.enabled) changes.enabled = values.enabled;
            if (Object.keys(changes).length === 0) onDone();
            else patch.mutate({ channel, patch: changes }, { onSuccess: onDone });
          })(event);
        }}
      >
        <ChannelFields form={form} error={patch.error} fixedKind />
        <ErrorMessage error={patch.error} />
        <p>
          <button type="submit" disabled={patch.isPending}>{patch.isPending ? "Saving…" : "Save channel"}</button>{" "}
          <button type="button" className="secondary" onClick={onDone}>Cancel</button>
        </p>
      </form>
    </section>
  );
}
