// The alarms list: state, severity and device filters (and a platform admin's tenant) in the URL, paged by the hub,
// kept current by the alarms stream (a raised alarm appears, an acknowledged or cleared one changes in place),
// acknowledged or cleared here.
import { useForm } from "react-hook-form";
import { Link, useSearchParams } from "react-router";
import type { Alarm } from "../lib/api";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, Field, Pager, Time, useTitle } from "../lib/controls";
import { TenantPicker, useTenantChoice } from "../lib/TenantPicker";
import { LiveLine, SeverityBadge, StateBadge } from "./parts";
import { ALARM_PAGE_SIZE, useAlarmAction, useAlarms, useLiveAlarms, type AlarmFilters } from "./queries";
import { AlarmTabs } from "./Tabs";
import { SEVERITIES, STATES } from "./words";

function filtersOf(params: URLSearchParams, tenant: string | null): AlarmFilters {
  const state = STATES.find((s) => s === params.get("state")) ?? "";
  const severity = SEVERITIES.find((s) => s === params.get("severity")) ?? "";
  const offset = Number.parseInt(params.get("offset") ?? "0", 10);
  return {
    tenant,
    state,
    severity,
    device: params.get("device") ?? "",
    offset: Number.isFinite(offset) && offset > 0 ? offset : 0,
  };
}

function paramsOf(filters: AlarmFilters): Record<string, string> {
  const params: Record<string, string> = {};
  if (filters.tenant !== null) params.tenant = filters.tenant;
  if (filters.state !== "") params.state = filters.state;
  if (filters.severity !== "") params.severity = filters.severity;
  if (filters.device !== "") params.device = filters.device;
  if (filters.offset > 0) params.offset = String(filters.offset);
  return params;
}

type FilterForm = Omit<AlarmFilters, "tenant" | "offset">;

function FilterBar({ filters, onApply }: { filters: AlarmFilters; onApply: (form: FilterForm) => void }) {
  const { register, handleSubmit } = useForm<FilterForm>({
    defaultValues: { state: filters.state, severity: filters.severity, device: filters.device },
  });
  return (
    <form
      role="search"
      aria-label="Filter alarms"
      className="toolbar"
      noValidate
      onSubmit={(event) => {
        void handleSubmit((form) => { onApply({ ...form, device: form.device.trim() }); })(event);
      }}
    >
      <Field label="State">
        {(props) => (
          <select {...props} {...register("state")}>
            <option value="">any</option>
            {STATES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        )}
      </Field>
      <Field label="Severity">
        {(props) => (
          <select {...props} {...register("severity")}>
            <option value="">any</option>
            {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        )}
      </Field>
      <Field label="Device" hint="Its id">
        {(props) => <input {...props} autoComplete="off" maxLength={64} {...register("device")} />}
      </Field>
      <button type="submit">Apply filters</button>
    </form>
  );
}

function Actions({ alarm }: { alarm: Alarm }) {
  const action = useAlarmAction();
  const what = `${alarm.rule_name} on ${alarm.device}`;
  return (
    <>
      {alarm.state === "active" && (
        <button
          type="button"
          aria-label={`Acknowledge ${what}`}
          disabled={action.isPending}
          onClick={() => { action.mutate({ alarm, action: "ack" }); }}
        >
          Acknowledge
        </button>
      )}{" "}
      {alarm.state !== "cleared" && (
        <ConfirmButton
          label="Clear"
          name={`Clear ${what}`}
          confirmLabel="Clear now"
          question={`Clear ${what} by hand?`}
          disabled={action.isPending}
          onConfirm={() => { action.mutate({ alarm, action: "clear" }); }}
        />
      )}
      <ErrorMessage error={action.error} />
    </>
  );
}

function AlarmRow({ alarm }: { alarm: Alarm }) {
  return (
    <tr className={`alarm-${alarm.state}`}>
      <td><SeverityBadge value={alarm.severity} /></td>
      <td><StateBadge value={alarm.state} /></td>
      <td><Link to={`/devices/${encodeURIComponent(alarm.device)}`}>{alarm.device}</Link></td>
      <td>{alarm.rule_name}</td>
      <td className="wrap">
        <Link to={`/alarms/${encodeURIComponent(alarm.id)}`}>{alarm.message}</Link>
      </td>
      <td><Time value={alarm.raised} /></td>
      <td>{alarm.acknowledged_by ?? <span className="muted">—</span>}</td>
      <td className="actions"><Actions alarm={alarm} /></td>
    </tr>
  );
}

export function Alarms() {
  useTitle("Alarms");
  const [params, setParams] = useSearchParams();
  const filters = filtersOf(params, useTenantChoice());
  const live = useLiveAlarms();
  const alarms = useAlarms(filters);
  const page = alarms.data;
  const filtered = filters.state !== "" || filters.severity !== "" || filters.device !== "";
  return (
    <>
      <h1>Alarms</h1>
      <AlarmTabs />
      <TenantPicker />
      <FilterBar
        key={params.toString()}
        filters={filters}
        onApply={(form) => { setParams(paramsOf({ ...form, tenant: filters.tenant, offset: 0 })); }}
      />
      <LiveLine status={live} />
      <ErrorMessage error={alarms.error} />
      {page === undefined ? (
        alarms.isPending && <p className="loading" role="status">Loading alarms…</p>
      ) : (
        <>
          <p className="muted">
            {page.total === 1 ? "1 alarm" : `${String(page.total)} alarms`}
            {filtered ? (page.total === 1 ? " matches the filters" : " match the filters") : ""}, newest first
          </p>
          <div className="table-wrap">
            <table className="data" aria-label="Alarms">
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">State</th>
                  <th scope="col">Device</th>
                  <th scope="col">Rule</th>
                  <th scope="col">Message</th>
                  <th scope="col">Raised</th>
                  <th scope="col">Acknowledged by</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((alarm) => <AlarmRow key={alarm.id} alarm={alarm} />)}
                {page.items.length === 0 && (
                  <tr>
                    <td colSpan={8} className="muted">
                      {filtered ? "No alarm matches the filters." : "No alarms."}
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <Pager
            offset={filters.offset}
            limit={ALARM_PAGE_SIZE}
            total={page.total}
            onChange={(offset) => { setParams(paramsOf({ ...filters, offset })); }}
          />
        </>
      )}
    </>
  );
}
