// One alarm (the page e-mail notifications link to): its facts, its history, and acknowledge or clear with a note.
import { useState } from "react";
import { Link, useParams } from "react-router";
import type { Alarm } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, Field, Time, useTitle } from "../lib/controls";
import { LiveLine, SeverityBadge, StateBadge } from "./parts";
import { useAlarm, useAlarmAction, useLiveAlarms } from "./queries";
import { formatValue } from "./words";

function Facts({ alarm }: { alarm: Alarm }) {
  return (
    <dl className="facts panel">
      <dt>State</dt>
      <dd><StateBadge value={alarm.state} /></dd>
      <dt>Severity</dt>
      <dd><SeverityBadge value={alarm.severity} /></dd>
      <dt>Message</dt>
      <dd className="wrap">{alarm.message}</dd>
      <dt>Device</dt>
      <dd><Link to={`/devices/${encodeURIComponent(alarm.device)}`}>{alarm.device}</Link></dd>
      <dt>Rule</dt>
      <dd>{alarm.rule_name} <span className="muted">({alarm.rule})</span></dd>
      <dt>Key</dt>
      <dd>{alarm.key ?? <span className="muted">none</span>}</dd>
      <dt>Value when raised</dt>
      <dd>{formatValue(alarm.value)}</dd>
      <dt>Raised</dt>
      <dd><Time value={alarm.raised} /></dd>
      <dt>Acknowledged</dt>
      <dd>
        {alarm.acknowledged === null || alarm.acknowledged === undefined ? (
          <span className="muted">not yet</span>
        ) : (
          <><Time value={alarm.acknowledged} /> by {alarm.acknowledged_by ?? "?"}</>
        )}
      </dd>
      <dt>Cleared</dt>
      <dd>
        {alarm.cleared === null || alarm.cleared === undefined ? (
          <span className="muted">not yet</span>
        ) : (
          <><Time value={alarm.cleared} /> {alarm.cleared_by === null || alarm.cleared_by === undefined ? "by its clear condition" : `by ${alarm.cleared_by}`}</>
        )}
      </dd>
      <dt>Tenant</dt>
      <dd>{alarm.tenant}</dd>
    </dl>
  );
}

function History({ alarm }: { alarm: Alarm }) {
  const history = alarm.history ?? [];
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      <div className="table-wrap">
        <table className="data" aria-label="History">
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Time</th>
              <th scope="col">By</th>
              <th scope="col">Value</th>
              <th scope="col">Note</th>
            </tr>
          </thead>
          <tbody>
            {history.map((change, index) => (
              <tr key={`${String(change.ts)}-${String(index)}`}>
                <td><StateBadge value={change.state} /></td>
                <td><Time value={change.ts} /></td>
                <td>{change.by ?? <span className="muted">the hub</span>}</td>
                <td>{formatValue(change.value)}</td>
                <td className="wrap">{change.note ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Handle({ alarm }: { alarm: Alarm }) {
  const [note, setNote] = useState("");
  const action = useAlarmAction();
  if (alarm.state === "cleared") return null;
  const run = (kind: "ack" | "clear") => {
    action.mutate({ alarm, action: kind, note }, { onSuccess: () => { setNote(""); } });
  };
  return (
    <section className="panel" aria-labelledby="handle-heading">
      <h2 id="handle-heading">{alarm.state === "active" ? "Acknowledge or clear" : "Clear"}</h2>
      <Field label="Note (optional)" hint="Kept in the history, at most 500 characters">
        {(props) => (
          <textarea {...props} rows={2} maxLength={500} value={note} onChange={(e) => { setNote(e.target.value); }} />
        )}
      </Field>
      <p>
        {alarm.state === "active" && (
          <button type="button" disabled={action.isPending} onClick={() => { run("ack"); }}>
            Acknowledge
          </button>
        )}{" "}
        <ConfirmButton
          label="Clear"
          confirmLabel="Clear now"
          question="Clear this alarm by hand?"
          disabled={action.isPending}
          onConfirm={() => { run("clear"); }}
        />
      </p>
      <ErrorMessage error={action.error} />
    </section>
  );
}

export function AlarmPage() {
  const { alarmId = "" } = useParams();
  useTitle(`Alarm ${alarmId}`);
  const live = useLiveAlarms();
  const alarm = useAlarm(alarmId);
  return (
    <>
      <p><Link to="/alarms">← All alarms</Link></p>
      <h1>Alarm {alarmId}</h1>
      <LiveLine status={live} />
      <ErrorMessage error={alarm.error} />
      {alarm.data === undefined ? (
        alarm.isPending && <p className="loading" role="status">Loading alarm…</p>
      ) : (
        <>
          <Facts alarm={alarm.data} />
          <Handle alarm={alarm.data} />
          <History alarm={alarm.data} />
        </>
      )}
    </>
  );
}
