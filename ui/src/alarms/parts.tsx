// Small pieces the alarm pages share: state and severity words, the live line, the count in the navigation.
import type { AlarmState, Severity } from "../lib/api";
import type { LiveStatus } from "../lib/live";
import { useActiveAlarmCount } from "./queries";

export function SeverityBadge({ value }: { value: Severity }) {
  return <span className={`badge sev-${value}`}>{value}</span>;
}

export function StateBadge({ value }: { value: AlarmState }) {
  return <span className={`badge alarm-${value}`}>{value}</span>;
}

export function LiveLine({ status }: { status: LiveStatus }) {
  return (
    <p className="muted" role="status">
      Live updates: {status === "open" ? "on" : status === "connecting" ? "connecting…" : "off (reload to resume)"}
    </p>
  );
}

/** "Alarms" in the navigation, with how many are active when there are any. */
export function AlarmsNavLabel() {
  const count = useActiveAlarmCount();
  const active = count.data ?? 0;
  return (
    <>
      Alarms
      {active > 0 && (
        <span className="count" aria-label={`${String(active)} active`}>
          {active > 999 ? "999+" : active}
        </span>
      )}
    </>
  );
}
