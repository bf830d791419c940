// The deployment's events (instances started, crashed, rescheduled…): the latest, then live.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { Schemas } from "../lib/api";
import { api } from "../lib/client";
import { useEventStream } from "../lib/live";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Time } from "../lib/controls";
import { appKeys } from "./queries";
import type { PlatformEvent } from "./types";

const KEEP = 200;

/** Newest first, without duplicates. */
function merged(events: PlatformEvent[], more: PlatformEvent[]): PlatformEvent[] {
  const byId = new Map(events.map((e) => [e.id, e]));
  for (const event of more) byId.set(event.id, event);
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, KEEP);
}

export function DeploymentEvents({ deploymentId }: { deploymentId: string }) {
  const client = useQueryClient();
  const key = appKeys.events(deploymentId);
  const events = useQuery({
    queryKey: key,
    queryFn: async ({ signal }) => {
      const latest = await api<Schemas["EventList"]>("/api/v1/events", {
        query: { deployment: deploymentId, limit: 50 },
        signal,
      });
      return merged(client.getQueryData<PlatformEvent[]>(key) ?? [], latest.items);
    },
    staleTime: Infinity,
  });
  useEventStream<PlatformEvent>(
    `/api/v1/events/stream?deployment=${encodeURIComponent(deploymentId)}`,
    "event",
    (event) => {
      client.setQueryData<PlatformEvent[]>(key, (list) => merged(list ?? [], [event]));
      // An event means the deployment changed: fetch it now rather than at the next interval.
      void client.invalidateQueries({ queryKey: appKeys.deployment(deploymentId) });
    },
  );
  const list = events.data ?? [];
  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">Events</h2>
      <ErrorMessage error={events.error} />
      {events.isPending && <p className="loading" role="status">Loading events…</p>}
      {!events.isPending && list.length === 0 && <p className="muted">No event yet.</p>}
      {list.length > 0 && (
        <ol className="events" aria-label={`Events of ${deploymentId}`}>
          {list.map((e) => (
            <li key={e.id}>
              <Time value={e.ts} /> <code>{e.kind}</code> {e.node ? <span className="muted">{e.node}</span> : null} {e.message}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
