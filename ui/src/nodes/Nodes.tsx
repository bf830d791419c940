import { Link } from "react-router";
import { isPlatformAdmin, useCurrentSession } from "../lib/session";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, Time, useTitle } from "../lib/controls";
import { NONE, celsius, load, percent } from "./format";
import { ProvisioningTokens } from "./ProvisioningTokens";
import { useNodes } from "./queries";
import type { Node } from "./types";

export function Nodes() {
  useTitle("Nodes");
  const session = useCurrentSession();
  const nodes = useNodes();
  const showTenant = isPlatformAdmin(session);
  return (
    <>
      <h1>Nodes</h1>
      <p className="muted">Gateways running the agent, with their latest heartbeat (refreshed every few seconds).</p>
      <ErrorMessage error={nodes.error} />
      {nodes.isPending && <p className="loading" role="status">Loading nodes…</p>}
      {nodes.data !== undefined && (
        <>
          {nodes.data.items.length === 0 ? (
            <p>No nodes yet: enroll a gateway with a provisioning token (below) and <code>fieldhub agent enroll</code>.</p>
          ) : (
            <div className="table-wrap">
              <table className="data" aria-label="Nodes and their latest heartbeat">
                <thead>
                  <tr>
                    <th scope="col">Node</th>
                    {showTenant && <th scope="col">Tenant</th>}
                    <th scope="col">Health</th>
                    <th scope="col">Connection</th>
                    <th scope="col">Last heartbeat</th>
                    <th scope="col">CPU load</th>
                    <th scope="col">Memory</th>
                    <th scope="col">Disk</th>
                    <th scope="col">Temperature</th>
                    <th scope="col">Spool depth</th>
                  </tr>
                </thead>
                <tbody>
                  {nodes.data.items.map((node) => (
                    <NodeRow key={node.id} node={node} showTenant={showTenant} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {nodes.data.total > nodes.data.items.length && (
            <p className="muted">
              Showing the first {nodes.data.items.length} of {nodes.data.total} nodes.
            </p>
          )}
        </>
      )}
      {session.role === "admin" && <ProvisioningTokens />}
    </>
  );
}

function NodeRow({ node, showTenant }: { node: Node; showTenant: boolean }) {
  const beat = node.heartbeat;
  return (
    <tr>
      <th scope="row">
        <Link to={`/nodes/${encodeURIComponent(node.id)}`}>{node.name === node.id ? node.id : `${node.name} (${node.id})`}</Link>
      </th>
      {showTenant && <td>{node.tenant}</td>}
      <td><Badge value={node.health} /></td>
      <td><Badge value={node.status} /></td>
      <td><Time value={node.heartbeat_at} /></td>
      <td>{load(beat?.load1)}</td>
      <td>{percent(beat?.mem_used_pct)}</td>
      <td>{percent(beat?.disk_used_pct)}</td>
      <td>{celsius(beat?.cpu_temp)}</td>
      <td>{beat === null ? NONE : beat.spool.depth}</td>
    </tr>
  );
}
