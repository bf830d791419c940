// A deployment's log lines: the latest from the API, then each new one as the hub stores it (Server-Sent Events).
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import type { Schemas } from "../lib/api";
import { api } from "../lib/client";
import { useEventStream } from "../lib/live";
import { ErrorMessage } from "../lib/ErrorMessage";
import { appKeys } from "./queries";
import type { LogLine } from "./types";

/** The most lines kept on screen; older ones scroll away. */
const KEEP = 1000;

/** Lines by id, oldest first, without duplicates (the stream and the first fetch may overlap). */
function merged(lines: LogLine[], more: LogLine[]): LogLine[] {
  const byId = new Map(lines.map((l) => [l.id, l]));
  for (const line of more) byId.set(line.id, line);
  return [...byId.values()].sort((a, b) => a.id - b.id).slice(-KEEP);
}

export function LiveLogs({ deploymentId }: { deploymentId: string }) {
  const client = useQueryClient();
  const key = appKeys.logs(deploymentId);
  const logs = useQuery({
    queryKey: key,
    queryFn: async ({ signal }) => {
      const latest = await api<Schemas["LogRecords"]>(`/api/v1/deployments/${encodeURIComponent(deploymentId)}/logs`, {
        query: { limit: 200, order: "desc" },
        signal,
      });
      // Keep what the stream brought while this was on its way.
      return merged(client.getQueryData<LogLine[]>(key) ?? [], latest.items);
    },
    staleTime: Infinity,
  });
  const live = useEventStream<LogLine>(
    `/api/v1/deployments/${encodeURIComponent(deploymentId)}/logs/stream`,
    "log",
    (line) => {
      client.setQueryData<LogLine[]>(key, (lines) => merged(lines ?? [], [line]));
    },
  );
  const box = useRef<HTMLDivElement>(null);
  const lines = logs.data ?? [];
  const last = lines.at(-1)?.id;
  useEffect(() => {
    const element = box.current;
    if (element !== null) element.scrollTop = element.scrollHeight;
  }, [last]);
  return (
    <section aria-labelledby="logs-heading">
      <h2 id="logs-heading">Logs</h2>
      <p className="muted" role="status">
        {live === "open" ? "Live: new lines appear as the nodes ship them." : live === "connecting" ? "Connecting to the live logs…" : "Live logs stopped (session ended): reload the page."}
      </p>
      <ErrorMessage error={logs.error} />
      <div className="logs" role="log" aria-label={`Logs of ${deploymentId}`} ref={box}>
        {lines.length === 0 && !logs.isPending && <span>No line yet.</span>}
        {lines.map((l) => (
          <div key={l.id} className={`log-line level-${l.level}`}>
            <span className="log-meta">{l.ts} {l.node}{l.instance ? `/${l.instance}` : ""}{l.stream ? ` ${l.stream}` : ""}</span>{" "}
            {l.message}
          </div>
        ))}
      </div>
    </section>
  );
}
