// Server-Sent Events from the API: the browser sends the session cookie with them on its own.
import { useEffect, useRef, useState } from "react";

export type LiveStatus = "connecting" | "open" | "closed";

/**
 * Listen to `path` (or nothing while it is null) for events named `event`; `onMessage` gets each parsed
 * JSON payload. The browser reconnects after a dropped connection; an `end` event (token expired or revoked)
 * closes the stream for good.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the payload's type
export function useEventStream<T>(path: string | null, event: string, onMessage: (data: T) => void): LiveStatus {
  const handler = useRef(onMessage);
  const [status, setStatus] = useState<LiveStatus>("connecting");
  useEffect(() => {
    handler.current = onMessage;
  });
  useEffect(() => {
    if (path === null) return undefined;
    const source = new EventSource(path, { withCredentials: true });
    const receive = (message: MessageEvent<string>) => {
      handler.current(JSON.parse(message.data) as T);
    };
    source.addEventListener(event, receive);
    source.addEventListener("open", () => { setStatus("open"); });
    source.addEventListener("error", () => {
      setStatus(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
    });
    source.addEventListener("end", () => {
      source.close();
      setStatus("closed");
    });
    return () => {
      source.close();
      setStatus("connecting");
    };
  }, [path, event]);
  return status;
}
