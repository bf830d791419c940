// The audit trail for admins: every change and sign-in, newest first, filtered by actor, action (or its family),
// target and time. Filters and the page are in the address, so reload and back keep them; the hub pages it.
import { useForm } from "react-hook-form";
import { useSearchParams } from "react-router";
import type { ActorKind, AuditRecord } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, Field, Time, useTitle } from "../lib/controls";
import { AUDIT_PAGE_SIZE, useAudit, type AuditFilters } from "./queries";

const ACTOR_WORDS: Record<ActorKind, string> = { user: "user", api_key: "API key", device: "device" };
const FILTER_NAMES = ["actor", "action", "target", "start", "end"] as const;
/** The `before` cursors of the newer pages, newest first ("" : the first page), so that "Newer" can go back. */
const NEWER = "newer";

function filtersOf(params: URLSearchParams): AuditFilters {
  return {
    actor: params.get("actor") ?? "",
    action: params.get("action") ?? "",
    target: params.get("target") ?? "",
    start: params.get("start") ?? "",
    end: params.get("end") ?? "",
  };
}

function cursorOf(value: string | null): number | null {
  const n = Number.parseInt(value ?? "", 10);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** An RFC 3339 time as a datetime-local input shows it (the reader's local time, to the minute). */
function toLocalInput(iso: string): string {
  const date = new Date(iso);
  if (iso === "" || Number.isNaN(date.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${String(date.getFullYear())}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function fromLocalInput(local: string): string {
  const date = new Date(local);
  return local === "" || Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

type FilterForm = AuditFilters;

function FilterBar({ filters, onApply }: { filters: AuditFilters; onApply: (filters: AuditFilters) => void }) {
  const { register, handleSubmit } = useForm<FilterForm>({
    defaultValues: { ...filters, start: toLocalInput(filters.start), end: toLocalInput(filters.end) },
  });
  return (
    <form
      role="search"
      aria-label="Filter the audit trail"
      className="toolbar"
      noValidate
      onSubmit={(event) => {
        void handleSubmit((form) => {
          onApply({
            actor: form.actor.trim(),
            action: form.action.trim(),
            target: form.target.trim(),
            start: fromLocalInput(form.start),
            end: fromLocalInput(form.end),
          });
        })(event);
      }}
    >
      <Field label="Actor" hint="A username, API key id or device">
        {(props) => <input {...props} autoComplete="off" maxLength={256} {...register("actor")} />}
      </Field>
      <Field label="Action" hint="e.g. auth.sign_in, or device. for a family">
        {(props) => <input {...props} autoComplete="off" maxLength={100} {...register("action")} />}
      </Field>
      <Field label="Target">
        {(props) => <input {...props} autoComplete="off" maxLength={256} {...register("target")} />}
      </Field>
      <Field label="From" hint="Your local time">
        {(props) => <input {...props} type="datetime-local" {...register("start")} />}
      </Field>
      <Field label="Until" hint="Your local time">
        {(props) => <input {...props} type="datetime-local" {...register("end")} />}
      </Field>
      <button type="submit">Apply filters</button>
    </form>
  );
}

function AuditRow({ record }: { record: AuditRecord }) {
  return (
    <tr>
      <td><Time value={record.ts} /></td>
      <td>
        {record.actor === null ? (
          <span className="muted">not signed in</span>
        ) : (
          <>
            <span className="muted">{ACTOR_WORDS[record.actor.kind]}</span> {record.actor.id}
          </>
        )}
      </td>
      <td><code>{record.action}</code></td>
      <td className="wrap">{record.target ?? <span className="muted">—</span>}</td>
      <td>{record.tenant ?? <span className="muted">platform</span>}</td>
      <td>{record.address ?? <span className="muted">—</span>}</td>
      <td>
        <Badge value={record.outcome} />
        {record.status !== null && record.status !== undefined && <span className="muted"> {record.status}</span>}
      </td>
    </tr>
  );
}

export function Audit() {
  useTitle("Audit trail");
  const [params, setParams] = useSearchParams();
  const filters = filtersOf(params);
  const before = cursorOf(params.get("before"));
  const newer = params.getAll(NEWER);
  const audit = useAudit(filters, before);
  const filtered = FILTER_NAMES.some((name) => filters[name] !== "");
  const go = (nextBefore: number | null, nextNewer: string[]) => {
    const next = new URLSearchParams();
    for (const name of FILTER_NAMES) if (filters[name] !== "") next.set(name, filters[name]);
    if (nextBefore !== null) next.set("before", String(nextBefore));
    nextNewer.forEach((cursor) => { next.append(NEWER, cursor); });
    setParams(next);
  };
  const page = audit.data;
  return (
    <>
      <h1>Audit trail</h1>
      <p className="muted">Every change and every sign-in, successful or not, newest first.</p>
      <FilterBar
        key={params.toString()}
        filters={filters}
        onApply={(form) => {
          const next = new URLSearchParams();
          for (const name of FILTER_NAMES) if (form[name] !== "") next.set(name, form[name]);
          setParams(next);
        }}
      />
      <ErrorMessage error={audit.error} />
      {page === undefined ? (
        audit.isPending && <p className="loading" role="status">Loading the audit trail…</p>
      ) : (
        <>
          <p className="muted">
            {page.items.length === 0
              ? filtered ? "No records match the filters." : "No records."
              : `${before === null ? "The newest" : "Older:"} ${String(page.items.length)} ${page.items.length === 1 ? "record" : "records"}${filtered ? " matching the filters" : ""}`}
          </p>
          {page.items.length > 0 && (
            <div className="table-wrap">
              <table className="data" aria-label="Audit records">
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Actor</th>
                    <th scope="col">Action</th>
                    <th scope="col">Target</th>
                    <th scope="col">Tenant</th>
                    <th scope="col">Client address</th>
                    <th scope="col">Outcome</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((record) => <AuditRow key={record.id} record={record} />)}
                </tbody>
              </table>
            </div>
          )}
          <nav className="pager" aria-label="Pages">
            <button type="button" className="secondary" disabled={before === null} onClick={() => { go(null, []); }}>
              Newest
            </button>
            <button
              type="button"
              className="secondary"
              disabled={before === null}
              onClick={() => { go(cursorOf(newer[0] ?? null), newer.slice(1)); }}
            >
              Newer
            </button>
            <button
              type="button"
              className="secondary"
              disabled={page.next_before === null || page.next_before === undefined}
              onClick={() => {
                if (page.next_before !== null && page.next_before !== undefined) {
                  go(page.next_before, [before === null ? "" : String(before), ...newer]);
                }
              }}
            >
              Older
            </button>
            <span className="muted">{AUDIT_PAGE_SIZE} a page</span>
          </nav>
        </>
      )}
    </>
  );
}
