// The overview: devices online and offline, nodes by health, ingest rate and refusals, and recent events (live).
import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useCallback, useId } from "react";
import { Link } from "react-router";
import type { Schemas } from "../lib/api";
import { api } from "../lib/client";
import { useEventStream } from "../lib/live";
import { isPlatformAdmin, useCurrentSession } from "../lib/session";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, Time, useTitle } from "../lib/controls";
import { NODE_PAGE, useNodes } from "../nodes/queries";

const REFRESH_MS = 5_000;
const RECENT_EVENTS = 20;
const EVENTS_KEY = ["events", "recent"] as const;

type PlatformEvent = Schemas["Event"];

type IngestStats = Schemas["IngestStats"];

/** Two polls of the counters make a rate: each sample keeps the one before it. */
interface IngestSample {
  stats: IngestStats;
  at: number;
  perSecond: number | null;
}

export function Overview() {
  useTitle("Overview");
  const session = useCurrentSession();
  return (
    <>
      <h1>Overview</h1>
      <DeviceCards />
      <NodeCards />
      {isPlatformAdmin(session) && <Ingest />}
      <RecentEvents />
    </>
  );
}

function Card({ label, value }: { label: string; value: number | string | undefined }) {
  const id = useId();
  return (
    <section className="card" aria-labelledby={id}>
      <span className="figure">{value ?? "…"}</span> <span id={id} className="label">{label}</span>
    </section>
  );
}

function useDeviceCount(status: "online" | "offline" | null) {
  return useQuery({
    queryKey: ["devices", "count", status],
    queryFn: ({ signal }) =>
      api<Schemas["DevicePage"]>("/api/v1/devices", { query: { status, limit: 1 }, signal }).then((page) => page.total),
    refetchInterval: REFRESH_MS,
  });
}

function DeviceCards() {
  const online = useDeviceCount("online");
  const offline = useDeviceCount("offline");
  const total = useDeviceCount(null);
  return (
    <section aria-labelledby="devices-heading">
      <h2 id="devices-heading"><Link to="/devices">Devices</Link></h2>
      <div className="cards">
        <Card label="Devices online" value={online.data} />
        <Card label="Devices offline" value={offline.data} />
        <Card label="Devices in total" value={total.data} />
      </div>
      <ErrorMessage error={online.error ?? offline.error ?? total.error} />
    </section>
  );
}

function NodeCards() {
  const nodes = useNodes();
  const count = (health: string) => nodes.data?.items.filter((n) => n.health === health).length;
  return (
    <section aria-labelledby="nodes-heading">
      <h2 id="nodes-heading"><Link to="/nodes">Nodes</Link></h2>
      <div className="cards">
        <Card label="Nodes healthy" value={count("healthy")} />
        <Card label="Nodes suspect" value={count("suspect")} />
        <Card label="Nodes dead" value={count("dead")} />
        <Card label="Nodes in total" value={nodes.data?.total} />
      </div>
      {nodes.data !== undefined && nodes.data.total > NODE_PAGE && (
        <p className="muted">Health counted over the first {NODE_PAGE} nodes.</p>
      )}
      <ErrorMessage error={nodes.error} />
    </section>
  );
}

const INGEST_KEY = ["ingest", "stats"] as const;

async function sampleIngest(client: QueryClient, signal: AbortSignal): Promise<IngestSample> {
  const before = client.getQueryData<IngestSample>(INGEST_KEY);
  const stats = await api<IngestStats>("/api/v1/ingest/stats", { signal });
  const at = performance.now();
  const seconds = before === undefined ? 0 : (at - before.at) / 1000;
  const perSecond = before !== undefined && seconds > 0 ? Math.max(0, (stats.messages - before.stats.messages) / seconds) : null;
  return { stats, at, perSecond };
}

function Ingest() {
  const client = useQueryClient();
  const ingest = useQuery({
    queryKey: INGEST_KEY,
    queryFn: ({ signal }) => sampleIngest(client, signal),
    refetchInterval: REFRESH_MS,
    staleTime: 0,
  });
  const stats = ingest.data?.stats;
  const reasons = stats === undefined ? [] : refusals(stats);
  const rate = ingest.data?.perSecond;
  return (
    <section aria-labelledby="ingest-heading">
      <h2 id="ingest-heading">Ingest</h2>
      <div className="cards">
        <Card label="Messages per second" value={rate === undefined ? undefined : rate === null ? "—" : rate.toFixed(1)} />
        <Card label="Messages received" value={stats?.messages} />
        <Card label="Points stored" value={stats?.stored} />
        <Card label="Refusals" value={stats === undefined ? undefined : reasons.reduce((sum, r) => sum + r.count, 0)} />
      </div>
      <ErrorMessage error={ingest.error} />
      {stats !== undefined && (
        <>
          <h3>Refusals by reason</h3>
          {reasons.length === 0 ? (
            <p>Nothing refused since the hub started.</p>
          ) : (
            <div className="table-wrap">
              <table className="data" aria-label="Refusals by reason">
                <thead>
                  <tr>
                    <th scope="col">What</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Count</th>
                  </tr>
                </thead>
                <tbody>
                  {reasons.map((r) => (
                    <tr key={`${r.what}-${r.reason}`}>
                      <td>{r.what}</td>
                      <th scope="row">{r.reason}</th>
                      <td>{r.count}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

function refusals(stats: IngestStats): { what: string; reason: string; count: number }[] {
  const groups: [string, Record<string, number>][] = [
    ["Refused (connections, publishes, subscriptions)", stats.refused],
    ["Rejected payloads", stats.rejected],
    ["Dropped connections", stats.dropped],
  ];
  return groups.flatMap(([what, counts]) =>
    Object.entries(counts)
      .filter(([, count]) => count > 0)
      .map(([reason, count]) => ({ what, reason, count })),
  );
}

function RecentEvents() {
  const client = useQueryClient();
  const events = useQuery({
    queryKey: EVENTS_KEY,
    queryFn: ({ signal }) =>
      api<Schemas["EventList"]>("/api/v1/events", { query: { limit: RECENT_EVENTS }, signal }).then((r) => r.items),
  });
  const receive = useCallback(
    (event: PlatformEvent) => {
      client.setQueryData<PlatformEvent[]>(EVENTS_KEY, (old = []) =>
        old.some((e) => e.id === event.id) ? old : [event, ...old].slice(0, RECENT_EVENTS),
      );
    },
    [client],
  );
  const live = useEventStream<PlatformEvent>("/api/v1/events/stream", "event", receive);
  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">Recent events</h2>
      <p className="muted" role="status">
        {live === "open" ? "Live: new events appear as they happen." : live === "connecting" ? "Connecting to live events…" : "Live events stopped: reload the page."}
      </p>
      <ErrorMessage error={events.error} />
      {events.data !== undefined &&
        (events.data.length === 0 ? (
          <p>No events yet.</p>
        ) : (
          <ol className="events panel" aria-label="Recent events">
            {events.data.map((e) => (
              <li key={e.id}>
                <Time value={e.ts} /> <Badge value={e.kind} /> {e.message}
                {e.node != null && (
                  <> · node <Link to={`/nodes/${encodeURIComponent(e.node)}`}>{e.node}</Link></>
                )}
                {e.deployment != null && (
                  <> · <Link to={`/deployments/${encodeURIComponent(e.deployment)}`}>deployment {e.deployment}</Link></>
                )}
              </li>
            ))}
          </ol>
        ))}
    </section>
  );
}
