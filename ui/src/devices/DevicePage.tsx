// One device: its facts, latest values and live charts, state, a command form and its settings.
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, Time, useTitle } from "../lib/controls";
import { CommandForm } from "./CommandForm";
import { DeviceSettings } from "./DeviceSettings";
import { DeviceStateSection } from "./DeviceStateSection";
import { deviceKeys, getDevice, type Device } from "./queries";
import { Telemetry } from "./Telemetry";

// The status badge follows the device connecting and leaving without a reload.
const REFRESH_MS = 5_000;

function Facts({ device }: { device: Device }) {
  return (
    <dl className="facts panel">
      <dt>ID</dt>
      <dd><code>{device.id}</code></dd>
      <dt>Name</dt>
      <dd>{device.name}</dd>
      <dt>Tenant</dt>
      <dd>{device.tenant}</dd>
      <dt>Kind</dt>
      <dd>{device.kind}</dd>
      <dt>Status</dt>
      <dd>
        <Badge value={device.status} />
        {!device.enabled && <> <Badge value="disabled" /></>}
      </dd>
      <dt>Labels</dt>
      <dd>
        {Object.keys(device.labels ?? {}).length === 0 ? (
          <span className="muted">none</span>
        ) : (
          Object.entries(device.labels ?? {}).map(([k, v]) => (
            <code key={k} className="label-chip">
              {k}={v}
            </code>
          ))
        )}
      </dd>
      <dt>Profile</dt>
      <dd>{device.profile ? <Link to="/profiles">{device.profile}</Link> : <span className="muted">none</span>}</dd>
      <dt>Created</dt>
      <dd><Time value={device.created} /></dd>
      <dt>Last seen</dt>
      <dd><Time value={device.last_seen} /></dd>
    </dl>
  );
}

export function DevicePage() {
  const { deviceId = "" } = useParams();
  useTitle(`Device ${deviceId}`);
  const device = useQuery({
    queryKey: deviceKeys.one(deviceId),
    queryFn: ({ signal }) => getDevice(deviceId, signal),
    refetchInterval: REFRESH_MS,
  });

  return (
    <>
      <p><Link to="/devices">← All devices</Link></p>
      <h1>Device {deviceId}</h1>
      <ErrorMessage error={device.error} />
      {device.data === undefined ? (
        device.isPending && <p className="loading" role="status">Loading device…</p>
      ) : (
        <>
          <Facts device={device.data} />
          <Telemetry key={deviceId} deviceId={deviceId} />
          <DeviceStateSection key={`state-${deviceId}`} deviceId={deviceId} />
          <CommandForm key={`command-${deviceId}`} deviceId={deviceId} />
          <DeviceSettings key={`settings-${deviceId}`} device={device.data} />
        </>
      )}
    </>
  );
}
