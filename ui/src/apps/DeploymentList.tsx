// A table of deployments (one app's, on its page).
import { Link } from "react-router";
import { Badge, Time } from "../lib/controls";
import type { Deployment } from "./types";

export function DeploymentList({ deployments, label }: { deployments: Deployment[]; label: string }) {
  if (deployments.length === 0) return <p className="muted">No deployment.</p>;
  return (
    <div className="table-wrap">
      <table className="data" aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Replicas</th>
            <th scope="col">Nodes</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => (
            <tr key={d.id}>
              <td><Link to={`/deployments/${d.id}`}>{d.id}</Link></td>
              <td>{d.version}</td>
              <td><Badge value={d.status} /></td>
              <td>{d.replicas}</td>
              <td>{[...new Set(d.instances.map((i) => i.node))].join(", ") || "—"}</td>
              <td><Time value={d.created} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
