// Notification channels with how their deliveries went (refreshed while the page is open), of the tenant a platform
// admin picks; create, edit, enable or disable, delete (refused while a rule names the channel: the API says which).
import { useState } from "react";
import type { Channel } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, Time, useTitle } from "../lib/controls";
import { TenantPicker, useTenantChoice } from "../lib/TenantPicker";
import { CreateChannel } from "./CreateChannel";
import { EditChannel } from "./EditChannel";
import { useChannels, useDeleteChannel, usePatchChannel } from "./queries";
import { AlarmTabs } from "./Tabs";
import { channelTarget } from "./words";

type Editing = { channel: Channel } | "new" | null;

function ChannelRow({ channel, onEdit }: { channel: Channel; onEdit: () => void }) {
  const patch = usePatchChannel();
  const remove = useDeleteChannel();
  const d = channel.deliveries;
  return (
    <tr>
      <th scope="row">
        {channel.name}
        <div className="muted"><code>{channel.id}</code>{channel.tenant === "default" ? "" : ` · ${channel.tenant}`}</div>
      </th>
      <td>{channel.kind}</td>
      <td className="wrap">{channelTarget(channel)}</td>
      <td>{channel.rate_per_min} a minute</td>
      <td>{channel.enabled ? "yes" : <span className="badge badge-disabled">disabled</span>}</td>
      <td>{d?.delivered ?? 0}</td>
      <td>{d?.failed_attempts ?? 0}</td>
      <td>{d?.dropped ?? 0}</td>
      <td>{d?.suppressed ?? 0}</td>
      <td className="wrap">
        {d?.last_error !== null && d?.last_error !== undefined ? (
          <>{d.last_error} <span className="muted">(<Time value={d.last_attempt} />)</span></>
        ) : d?.last_delivered !== null && d?.last_delivered !== undefined ? (
          <span className="muted">none; last delivered <Time value={d.last_delivered} /></span>
        ) : (
          <span className="muted">none</span>
        )}
      </td>
      <td className="actions">
        <button type="button" className="secondary" aria-label={`Edit ${channel.name}`} onClick={onEdit}>Edit</button>{" "}
        <button
          type="button"
          className="secondary"
          aria-label={`${channel.enabled ? "Disable" : "Enable"} ${channel.name}`}
          disabled={patch.isPending}
          onClick={() => { patch.mutate({ channel, patch: { enabled: !channel.enabled } }); }}
        >
          {channel.enabled ? "Disable" : "Enable"}
        </button>{" "}
        <ConfirmButton
          label="Delete"
          name={`Delete ${channel.name}`}
          confirmLabel="Delete channel"
          question={`Delete channel ${channel.name}?`}
          disabled={remove.isPending}
          onConfirm={() => { remove.mutate(channel); }}
        />
        <ErrorMessage error={patch.error ?? remove.error} />
      </td>
    </tr>
  );
}

export function Channels() {
  useTitle("Notification channels");
  const tenant = useTenantChoice();
  const channels = useChannels(tenant, true);
  const [editing, setEditing] = useState<Editing>(null);
  const items = channels.data?.items ?? [];
  return (
    <>
      <div className="page-head">
        <h1>Notification channels</h1>
        {editing === null && <button type="button" onClick={() => { setEditing("new"); }}>Create channel</button>}
      </div>
      <AlarmTabs />
      <TenantPicker />
      {editing === "new" && <CreateChannel tenant={tenant} onClose={() => { setEditing(null); }} />}
      {editing !== null && editing !== "new" && (
        <EditChannel key={editing.channel.id} channel={editing.channel} onDone={() => { setEditing(null); }} />
      )}
      <ErrorMessage error={channels.error} />
      {channels.data === undefined ? (
        channels.isPending && <p className="loading" role="status">Loading channels…</p>
      ) : (
        <div className="table-wrap">
          <table className="data" aria-label="Channels">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Target</th>
                <th scope="col">Rate limit</th>
                <th scope="col">Enabled</th>
                <th scope="col">Delivered</th>
                <th scope="col">Failed attempts</th>
                <th scope="col">Dropped</th>
                <th scope="col">Suppressed</th>
                <th scope="col">Last error</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((channel) => (
                <ChannelRow
                  key={channel.id}
                  channel={channel}
                  onEdit={() => { setEditing({ channel }); window.scrollTo({ top: 0 }); }}
                />
              ))}
              {items.length === 0 && (
                <tr><td colSpan={11} className="muted">No channels yet.</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
