// /applications/:appName?tenant=…: the app's facts, its versions (each deletable), a deploy form and its deployments.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api } from "../lib/client";
import { useCurrentSession } from "../lib/session";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, Time, useTitle } from "../lib/controls";
import { DeployForm } from "./DeployForm";
import { DeploymentList } from "./DeploymentList";
import { appKeys, formatBytes, useApp, useDeployments } from "./queries";
import { manifestOf, type App } from "./types";

export function ApplicationPage() {
  const { appName = "" } = useParams();
  const [search] = useSearchParams();
  const session = useCurrentSession();
  // Platform admins name the tenant (default: "default", as the API does); everyone else acts in their own.
  const tenant = search.get("tenant") ?? session.tenant ?? "default";
  useTitle(`App ${appName}`);
  const app = useApp(tenant, appName);
  return (
    <>
      <p><Link to="/applications">← Apps</Link></p>
      <h1>App {appName}</h1>
      {app.isPending && <p className="loading" role="status">Loading…</p>}
      <ErrorMessage error={app.error} />
      {app.data !== undefined && <AppDetails app={app.data} />}
    </>
  );
}

function AppDetails({ app }: { app: App }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const deployments = useDeployments();
  const newest = app.versions[0];
  const manifest = newest && manifestOf(newest);
  const remove = useMutation({
    mutationFn: (version: string) =>
      api<undefined>(`/api/v1/apps/${encodeURIComponent(app.name)}/versions/${encodeURIComponent(version)}`, {
        method: "DELETE",
        query: { tenant: app.tenant },
      }),
    onSuccess: async (_, version) => {
      await client.invalidateQueries({ queryKey: appKeys.list });
      if (app.versions.length === 1 && app.versions[0]?.version === version) {
        client.removeQueries({ queryKey: appKeys.app(app.tenant, app.name) });
        void navigate("/applications");
      } else {
        await client.invalidateQueries({ queryKey: appKeys.app(app.tenant, app.name) });
      }
    },
  });
  const mine = (deployments.data?.items ?? []).filter((d) => d.app === app.name && d.tenant === app.tenant);
  return (
    <>
      <section className="panel" aria-labelledby="facts-heading">
        <h2 id="facts-heading">About</h2>
        <dl className="facts">
          <dt>Tenant</dt>
          <dd>{app.tenant}</dd>
          <dt>Description</dt>
          <dd>{manifest?.app.description || <span className="muted">none</span>}</dd>
          <dt>Latest version</dt>
          <dd>{newest?.version ?? "—"}</dd>
          <dt>Runtime</dt>
          <dd>{manifest?.runtime?.kind ?? "python"}</dd>
          <dt>Link</dt>
          <dd>
            {manifest?.http
              ? `/apps/${app.tenant}/${app.name}/ once deployed${manifest.http.public ? " (public)" : ""}`
              : "none (no [http] in the manifest)"}
          </dd>
          <dt>Binds</dt>
          <dd>
            {[...(manifest?.sensors ?? []), ...(manifest?.actuators ?? [])]
              .map((b) => `${b.bind}: ${b.type}${b.location ? ` at ${b.location}` : ""}`)
              .join("; ") || <span className="muted">nothing</span>}
          </dd>
        </dl>
      </section>

      <section aria-labelledby="versions-heading">
        <h2 id="versions-heading">Versions</h2>
        <ErrorMessage error={remove.error} />
        <div className="table-wrap">
          <table className="data" aria-labelledby="versions-heading">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Size</th>
                <th scope="col">Pushed</th>
                <th scope="col">By</th>
                <th scope="col">Digest</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {app.versions.map((v) => (
                <tr key={v.version}>
                  <td>{v.version}</td>
                  <td>{formatBytes(v.size)}</td>
                  <td><Time value={v.created} /></td>
                  <td>{v.created_by}</td>
                  <td><code title={v.digest}>{v.digest.slice(0, 12)}</code></td>
                  <td className="actions">
                    <a
                      className="button secondary"
                      href={`/api/v1/apps/${encodeURIComponent(app.name)}/versions/${encodeURIComponent(v.version)}/package?tenant=${encodeURIComponent(app.tenant)}`}
                      download={`${app.name}-${v.version}.zip`}
                      aria-label={`Download ${app.name} ${v.version}`}
                    >
                      Download
                    </a>{" "}
                    <ConfirmButton
                      label={`Delete ${v.version}`}
                      confirmLabel={`Delete ${v.version} for good`}
                      question={`Delete version ${v.version} and its package?`}
                      onConfirm={() => { remove.mutate(v.version); }}
                      disabled={remove.isPending}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <DeployForm tenant={app.tenant} app={app.name} versions={app.versions} />

      <section aria-labelledby="deployments-heading">
        <h2 id="deployments-heading">Deployments</h2>
        <ErrorMessage error={deployments.error} />
        {deployments.isPending ? (
          <p className="loading" role="status">Loading deployments…</p>
        ) : (
          <DeploymentList deployments={mine} label={`Deployments of ${app.name}`} />
        )}
      </section>
    </>
  );
}
