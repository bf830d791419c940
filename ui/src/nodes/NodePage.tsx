import { Link, useParams } from "react-router";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, Time, useTitle } from "../lib/controls";
import { NONE, bytes, celsius, duration, load, percent } from "./format";
import { useNode, useNodeLogs } from "./queries";
import type { Heartbeat, LogEntry, Node, SensorInfo } from "./types";

export function NodePage() {
  const { nodeId = "" } = useParams();
  useTitle(`Node ${nodeId}`);
  const node = useNode(nodeId);
  const logs = useNodeLogs(nodeId, node.isSuccess);
  return (
    <>
      <p><Link to="/nodes">← All nodes</Link></p>
      <h1>Node {nodeId}</h1>
      <ErrorMessage error={node.error} />
      {node.isPending && <p className="loading" role="status">Loading the node…</p>}
      {node.data !== undefined && (
        <>
          <Summary node={node.data} />
          {node.data.heartbeat === null ? (
            <p>This node has not sent a heartbeat yet.</p>
          ) : (
            <>
              <Sensors sensors={node.data.heartbeat.sensors ?? []} />
              <Apps beat={node.data.heartbeat} />
            </>
          )}
          <section aria-labelledby="logs-heading">
            <h2 id="logs-heading">Logs</h2>
            <p className="muted">The newest lines the node shipped, its own and its apps&apos;, oldest first.</p>
            <ErrorMessage error={logs.error} />
            {logs.data !== undefined && <LogLines id={nodeId} lines={logs.data.lines} />}
          </section>
        </>
      )}
    </>
  );
}

function Summary({ node }: { node: Node }) {
  const beat = node.heartbeat;
  return (
    <section className="panel" aria-labelledby="health-heading">
      <h2 id="health-heading">Health</h2>
      <dl className="facts">
        <dt>Name</dt>
        <dd>{node.name}</dd>
        <dt>Tenant</dt>
        <dd>{node.tenant}</dd>
        <dt>Health</dt>
        <dd><Badge value={node.health} /></dd>
        <dt>Connection</dt>
        <dd><Badge value={node.status} /> (last seen <Time value={node.last_seen} />)</dd>
        <dt>Last heartbeat</dt>
        <dd><Time value={node.heartbeat_at} /></dd>
        <dt>Agent version</dt>
        <dd>{beat?.agent_version ?? NONE}</dd>
        <dt>Uptime</dt>
        <dd>{duration(beat?.uptime_s)}</dd>
        <dt>CPU load</dt>
        <dd>{load(beat?.load1)}</dd>
        <dt>Temperature</dt>
        <dd>{celsius(beat?.cpu_temp)}</dd>
        <dt>Memory</dt>
        <dd>{percent(beat?.mem_used_pct)}</dd>
        <dt>Disk</dt>
        <dd>{percent(beat?.disk_used_pct)}</dd>
        <dt>Spool depth</dt>
        <dd>{beat === null ? NONE : beat.spool.depth}</dd>
        {beat !== null && (
          <>
            <dt>Oldest spooled</dt>
            <dd>{duration(beat.spool.oldest_age_s)}</dd>
            <dt>Spool dropped</dt>
            <dd>{beat.spool.dropped}</dd>
            <dt>Spool size</dt>
            <dd>{bytes(beat.spool.bytes_used)}</dd>
          </>
        )}
      </dl>
    </section>
  );
}

function Sensors({ sensors }: { sensors: SensorInfo[] }) {
  return (
    <section aria-labelledby="sensors-heading">
      <h2 id="sensors-heading">Sensors</h2>
      {sensors.length === 0 ? (
        <p>The node reports no sensors.</p>
      ) : (
        <div className="table-wrap">
          <table className="data" aria-label="Sensors of the node">
            <thead>
              <tr>
                <th scope="col">Sensor</th>
                <th scope="col">Type</th>
                <th scope="col">Location</th>
                <th scope="col">Unit</th>
                <th scope="col">Driver</th>
                <th scope="col">Interval</th>
                <th scope="col">Labels</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {sensors.map((s) => (
                <tr key={s.name}>
                  <th scope="row">{s.name}</th>
                  <td>{s.type ?? NONE}</td>
                  <td>{s.location ?? NONE}</td>
                  <td>{s.unit ?? NONE}</td>
                  <td>{s.driver}</td>
                  <td>{s.interval_s == null ? NONE : `${s.interval_s} s`}</td>
                  <td>{Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") || NONE}</td>
                  <td>
                    <Badge value={s.state} />
                    {s.error && <> {s.error}</>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Apps({ beat }: { beat: Heartbeat }) {
  return (
    <section aria-labelledby="apps-heading">
      <h2 id="apps-heading">App instances</h2>
      {(beat.apps ?? []).length === 0 ? (
        <p>The node runs no app instances.</p>
      ) : (
        <div className="table-wrap">
          <table className="data" aria-label="App instances on the node">
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">Replica</th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
              </tr>
            </thead>
            <tbody>
              {(beat.apps ?? []).map((a) => (
                <tr key={`${a.deployment}-${a.replica}`}>
                  <th scope="row"><Link to={`/deployments/${encodeURIComponent(a.deployment)}`}>{a.deployment}</Link></th>
                  <td>{a.replica}</td>
                  <td>{a.cpu_pct == null ? NONE : `${a.cpu_pct.toFixed(1)} % of a core`}</td>
                  <td>{a.rss_mb == null ? NONE : `${a.rss_mb.toFixed(1)} MB`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function LogLines({ id, lines }: { id: string; lines: LogEntry[] }) {
  return (
    // A scrollable region: focusable so that keyboard users can scroll it.
    // eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex -- scrollable content must take focus (WCAG 2.1.1)
    <div className="logs" role="log" aria-label={`Logs of ${id}`} tabIndex={0}>
      {lines.length === 0 ? (
        <p>No log lines shipped yet.</p>
      ) : (
        <ol>
          {lines.map((line, i) => (
            <li key={i} className={`level-${line.level}`}>
              <time dateTime={line.ts}>{new Date(line.ts).toLocaleString()}</time> {line.level}
              {line.logger !== "" && <> {line.logger}</>}: {line.message}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
