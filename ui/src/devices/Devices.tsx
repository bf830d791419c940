// The devices list: search, label and status filters and paging, all done by the hub (one page of rows at a
// time, so 10,000 devices cost the same as 50). The filters live in the URL: reload and back keep them.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { Link, useSearchParams } from "react-router";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, Field, Pager, Time, useTitle } from "../lib/controls";
import { CreateDevice } from "./CreateDevice";
import { checkLabelFilter } from "./parse";
import { PAGE_SIZE, deviceKeys, listDevices, type DeviceFilters } from "./queries";

// Status changes (a device connecting) show up without a reload.
const REFRESH_MS = 3_000;

function filtersOf(params: URLSearchParams): DeviceFilters {
  const status = params.get("status");
  const offset = Number.parseInt(params.get("offset") ?? "0", 10);
  return {
    q: params.get("q") ?? "",
    label: params.get("label") ?? "",
    status: status === "online" || status === "offline" ? status : "",
    offset: Number.isFinite(offset) && offset > 0 ? offset : 0,
  };
}

function paramsOf(filters: DeviceFilters): Record<string, string> {
  const params: Record<string, string> = {};
  if (filters.q !== "") params.q = filters.q;
  if (filters.label !== "") params.label = filters.label;
  if (filters.status !== "") params.status = filters.status;
  if (filters.offset > 0) params.offset = String(filters.offset);
  return params;
}

type FilterForm = Omit<DeviceFilters, "offset">;

function FilterBar({ filters, onApply }: { filters: DeviceFilters; onApply: (form: FilterForm) => void }) {
  const { register, handleSubmit, formState } = useForm<FilterForm>({
    defaultValues: { q: filters.q, label: filters.label, status: filters.status },
  });
  return (
    <form
      role="search"
      aria-label="Filter devices"
      className="toolbar"
      noValidate
      onSubmit={(event) => {
        void handleSubmit((form) => { onApply({ q: form.q.trim(), label: form.label.trim(), status: form.status }); })(event);
      }}
    >
      <Field label="Search" hint="Part of the id or name">
        {(props) => <input {...props} type="search" maxLength={100} {...register("q")} />}
      </Field>
      <Field label="Label" hint="key=value" error={formState.errors.label?.message}>
        {(props) => <input {...props} autoComplete="off" {...register("label", { validate: (v) => checkLabelFilter(v) ?? true })} />}
      </Field>
      <Field label="Status">
        {(props) => (
          <select {...props} {...register("status")}>
            <option value="">any</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
          </select>
        )}
      </Field>
      <button type="submit">Apply filters</button>
    </form>
  );
}

export function Devices() {
  useTitle("Devices");
  const [params, setParams] = useSearchParams();
  const filters = filtersOf(params);
  const [creating, setCreating] = useState(false);
  const devices = useQuery({
    queryKey: deviceKeys.list(filters),
    queryFn: ({ signal }) => listDevices(filters, signal),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  });
  const page = devices.data;
  const filtered = filters.q !== "" || filters.label !== "" || filters.status !== "";

  return (
    <>
      <div className="page-head">
        <h1>Devices</h1>
        {!creating && (
          <button type="button" onClick={() => { setCreating(true); }}>
            Create device
          </button>
        )}
      </div>
      {creating && <CreateDevice onClose={() => { setCreating(false); }} />}
      {/* A new key when the URL changes (back, a link) resets the fields to the filters shown. */}
      <FilterBar
        key={params.toString()}
        filters={filters}
        onApply={(form) => { setParams(paramsOf({ ...form, offset: 0 })); }}
      />
      <ErrorMessage error={devices.error} />
      {page === undefined ? (
        devices.isPending && <p className="loading" role="status">Loading devices…</p>
      ) : (
        <>
          <p className="muted" role="status">
            {page.total === 1 ? "1 device" : `${page.total} devices`}
            {filtered ? (page.total === 1 ? " matches the filters" : " match the filters") : ""}
          </p>
          <div className="table-wrap">
            <table className="data" aria-label="Devices">
              <thead>
                <tr>
                  <th scope="col">ID</th>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Labels</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((device) => (
                  <tr key={device.id}>
                    <td>
                      <Link to={`/devices/${encodeURIComponent(device.id)}`}>{device.id}</Link>
                    </td>
                    <td>{device.name}</td>
                    <td>{device.kind}</td>
                    <td>
                      {Object.entries(device.labels ?? {}).map(([k, v]) => (
                        <code key={k} className="label-chip">
                          {k}={v}
                        </code>
                      ))}
                    </td>
                    <td>
                      <Badge value={device.status} />
                      {!device.enabled && <> <Badge value="disabled" /></>}
                    </td>
                    <td>
                      <Time value={device.last_seen} />
                    </td>
                  </tr>
                ))}
                {page.items.length === 0 && (
                  <tr>
                    <td colSpan={6} className="muted">
                      {filtered ? "No device matches the filters." : "No devices yet."}
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <Pager
            offset={filters.offset}
            limit={PAGE_SIZE}
            total={page.total}
            onChange={(offset) => { setParams(paramsOf({ ...filters, offset })); }}
          />
        </>
      )}
    </>
  );
}
