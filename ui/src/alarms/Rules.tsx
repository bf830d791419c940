// The rules of the tenant (for platform admins: of the tenant picked, or every tenant's): what each watches in
// words, create and edit, enable or disable, delete after a confirmation.
import { useState } from "react";
import type { Rule } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, useTitle } from "../lib/controls";
import { TenantPicker, useTenantChoice } from "../lib/TenantPicker";
import { SeverityBadge } from "./parts";
import { useChannels, useDeleteRule, usePatchRule, useRules } from "./queries";
import { RuleForm } from "./RuleForm";
import { AlarmTabs } from "./Tabs";
import { clearWords, conditionWords, duration, NOTIFY_WORDS, targetWords } from "./words";

type Editing = { rule: Rule } | "new" | null;

function RuleRow({ rule, channelNames, onEdit }: { rule: Rule; channelNames: Map<string, string>; onEdit: () => void }) {
  const patch = usePatchRule();
  const remove = useDeleteRule();
  const channels = rule.channels ?? [];
  return (
    <tr>
      <th scope="row">
        {rule.name}
        <div className="muted"><code>{rule.id}</code>{rule.tenant === "default" ? "" : ` · ${rule.tenant}`}</div>
      </th>
      <td className="wrap">{targetWords(rule)}</td>
      <td className="wrap">
        {conditionWords(rule)}
        <div className="muted">{rule.kind === "no_data" ? "clears when data arrives" : clearWords(rule)}</div>
      </td>
      <td>{rule.for_s > 0 ? duration(rule.for_s) : "at once"}</td>
      <td><SeverityBadge value={rule.severity} /></td>
      <td className="wrap">
        {channels.length === 0 ? <span className="muted">none</span> : channels.map((c) => channelNames.get(c) ?? c).join(", ")}
        {channels.length > 0 && (
          <div className="muted">when {(rule.notify_on ?? []).map((s) => NOTIFY_WORDS[s]).join(", ") || "never"}</div>
        )}
      </td>
      <td>{rule.enabled ? "yes" : <span className="badge badge-disabled">disabled</span>}</td>
      <td className="actions">
        <button type="button" className="secondary" aria-label={`Edit ${rule.name}`} onClick={onEdit}>Edit</button>{" "}
        <button
          type="button"
          className="secondary"
          aria-label={`${rule.enabled ? "Disable" : "Enable"} ${rule.name}`}
          disabled={patch.isPending}
          onClick={() => { patch.mutate({ rule, patch: { enabled: !rule.enabled } }); }}
        >
          {rule.enabled ? "Disable" : "Enable"}
        </button>{" "}
        <ConfirmButton
          label="Delete"
          name={`Delete ${rule.name}`}
          confirmLabel="Delete rule"
          question={`Delete rule ${rule.name}? Its alarms stay, as history.`}
          disabled={remove.isPending}
          onConfirm={() => { remove.mutate(rule); }}
        />
        <ErrorMessage error={patch.error ?? remove.error} />
      </td>
    </tr>
  );
}

export function Rules() {
  useTitle("Alarm rules");
  const tenant = useTenantChoice();
  const rules = useRules(tenant);
  const channels = useChannels(tenant);
  const [editing, setEditing] = useState<Editing>(null);
  const channelNames = new Map((channels.data?.items ?? []).map((c) => [c.id, c.name]));
  const items = rules.data?.items ?? [];
  return (
    <>
      <div className="page-head">
        <h1>Alarm rules</h1>
        {editing === null && <button type="button" onClick={() => { setEditing("new"); }}>Create rule</button>}
      </div>
      <AlarmTabs />
      <TenantPicker />
      {editing !== null && (
        <RuleForm
          key={editing === "new" ? `new/${tenant ?? ""}` : `${editing.rule.tenant}/${editing.rule.id}`}
          tenant={tenant}
          {...(editing === "new" ? {} : { rule: editing.rule })}
          onDone={() => { setEditing(null); }}
        />
      )}
      <ErrorMessage error={rules.error} />
      {rules.data === undefined ? (
        rules.isPending && <p className="loading" role="status">Loading rules…</p>
      ) : (
        <div className="table-wrap">
          <table className="data" aria-label="Rules">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Devices</th>
                <th scope="col">Condition</th>
                <th scope="col">For</th>
                <th scope="col">Severity</th>
                <th scope="col">Channels</th>
                <th scope="col">Enabled</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((rule) => (
                <RuleRow
                  key={`${rule.tenant}/${rule.id}`}
                  rule={rule}
                  channelNames={channelNames}
                  onEdit={() => { setEditing({ rule }); window.scrollTo({ top: 0 }); }}
                />
              ))}
              {items.length === 0 && (
                <tr><td colSpan={8} className="muted">No rules yet.</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
