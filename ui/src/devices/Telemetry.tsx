// A device's latest values and a chart per numeric key over a chosen range and aggregation, kept live by
// the device's stream while the page is open.
import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { Chart } from "../lib/Chart";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field, Time } from "../lib/controls";
import { deviceKeys, getLatest, mergeLatest, type Scalar } from "./queries";
import { AGGREGATIONS, RANGES, intervalFor, isAggregation, isRangeName, loadSeries, mergeSeries, MAX_RAW_POINTS, type Aggregation, type RangeName } from "./series";
import { useLiveTelemetry } from "./useLiveTelemetry";

function show(value: Scalar): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function SeriesChart({ deviceId, name, range, agg }: { deviceId: string; name: string; range: RangeName; agg: Aggregation }) {
  const series = useQuery({
    queryKey: deviceKeys.series(deviceId, name, range, agg),
    queryFn: ({ signal }) => loadSeries(deviceId, name, range, agg, signal),
    // Raw series stay current through the live stream; fetching again would only redo that work.
    staleTime: agg === "raw" ? Infinity : 30_000,
    refetchOnWindowFocus: agg !== "raw",
    structuralSharing: agg === "raw" ? mergeSeries : false,
  });
  if (series.isError) return <ErrorMessage error={series.error} />;
  if (series.data === undefined) return <p className="loading" role="status">Loading {name}…</p>;
  return <Chart name={name} data={series.data} />;
}

export function Telemetry({ deviceId }: { deviceId: string }) {
  const [params, setParams] = useSearchParams();
  const rangeParam = params.get("range");
  const aggParam = params.get("agg");
  const range: RangeName = isRangeName(rangeParam) ? rangeParam : "1h";
  const agg: Aggregation = isAggregation(aggParam) ? aggParam : "raw";
  const latest = useQuery({
    queryKey: deviceKeys.latest(deviceId),
    queryFn: ({ signal }) => getLatest(deviceId, signal),
    structuralSharing: mergeLatest,
  });
  const live = useLiveTelemetry(deviceId, true);

  const choose = (name: "range" | "agg", value: string) => {
    setParams((current) => {
      const next = new URLSearchParams(current);
      next.set(name, value);
      return next;
    }, { replace: true });
  };

  const values = Object.entries(latest.data?.values ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const numericKeys = values.filter(([, v]) => typeof v.value === "number").map(([key]) => key);

  return (
    <>
      <section aria-labelledby="latest-heading">
        <h2 id="latest-heading">Latest values</h2>
        <p className="muted" role="status">
          Live updates: {live === "open" ? "on" : live === "connecting" ? "connecting…" : "off (reload the page)"}
        </p>
        <ErrorMessage error={latest.error} />
        {latest.data !== undefined && values.length === 0 && <p className="muted">No telemetry yet.</p>}
        {values.length > 0 && (
          <div className="table-wrap">
            <table className="data" aria-label="Latest values">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Value</th>
                  <th scope="col">Time</th>
                </tr>
              </thead>
              <tbody>
                {values.map(([key, v]) => (
                  <tr key={key}>
                    <th scope="row">{key}</th>
                    <td>{show(v.value)}</td>
                    <td>
                      <Time value={v.ts} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="charts-heading">
        <h2 id="charts-heading">Charts</h2>
        <div className="toolbar">
          <Field label="Range">
            {(props) => (
              <select {...props} value={range} onChange={(e) => { choose("range", e.target.value); }}>
                {Object.entries(RANGES).map(([value, r]) => (
                  <option key={value} value={value}>
                    {r.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Aggregation">
            {(props) => (
              <select {...props} value={agg} onChange={(e) => { choose("agg", e.target.value); }}>
                {Object.entries(AGGREGATIONS).map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <p className="muted">
          {agg === "raw"
            ? `The newest points of the range (at most ${MAX_RAW_POINTS.toLocaleString()} a chart).`
            : `One point per ${intervalFor(RANGES[range].ms)}: the ${AGGREGATIONS[agg].toLowerCase()} of its readings.`}
        </p>
        {latest.data !== undefined && numericKeys.length === 0 && <p className="muted">No numeric values to chart yet.</p>}
        <div className="charts">
          {numericKeys.map((key) => (
            <SeriesChart key={key} deviceId={deviceId} name={key} range={range} agg={agg} />
          ))}
        </div>
      </section>
    </>
  );
}
