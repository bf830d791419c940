// /deployments/:deploymentId: status (refreshed every few seconds), link, instances, placement, status timeline,
// events and live logs; update to another version, or undeploy.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { Link, useNavigate, useParams } from "react-router";
import { api } from "../lib/client";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, ConfirmButton, Field, Time, useTitle } from "../lib/controls";
import { DeploymentEvents } from "./DeploymentEvents";
import { LiveLogs } from "./LiveLogs";
import { PlacementExplanation } from "./PlacementExplanation";
import { appKeys, appPath, useApp, useDeployment } from "./queries";
import type { Deployment, Schedule } from "./types";

export function DeploymentPage() {
  const { deploymentId = "" } = useParams();
  useTitle(`Deployment ${deploymentId}`);
  // Once undeploy is under way, the deployment is no longer asked for: it is about to answer 404.
  const [leaving, setLeaving] = useState(false);
  const deployment = useDeployment(deploymentId, !leaving);
  const d = deployment.data;
  return (
    <>
      <p>
        {d === undefined ? <Link to="/applications">← Apps</Link> : <Link to={appPath(d.tenant, d.app)}>← App {d.app}</Link>}
      </p>
      <h1>Deployment {deploymentId}</h1>
      {deployment.isPending && <p className="loading" role="status">Loading…</p>}
      <ErrorMessage error={deployment.error} />
      {d !== undefined && <DeploymentDetails deployment={d} onLeaving={setLeaving} />}
      {d !== undefined && (
        <>
          <DeploymentEvents deploymentId={d.id} />
          <LiveLogs deploymentId={d.id} />
        </>
      )}
    </>
  );
}

function describe(schedule: Schedule): string {
  switch (schedule.kind) {
    case "now":
      return "now, until deleted";
    case "at":
      return `from ${new Date(schedule.start).toLocaleString()}, until deleted`;
    case "window":
      return `from ${new Date(schedule.start).toLocaleString()} to ${new Date(schedule.end).toLocaleString()}`;
    case "cron":
      return `cron "${schedule.cron}" (${schedule.timezone}), ${schedule.duration_s} s each run`;
  }
}

function DeploymentDetails({ deployment: d, onLeaving }: { deployment: Deployment; onLeaving: (leaving: boolean) => void }) {
  return (
    <>
      <section className="panel" aria-labelledby="status-heading">
        <h2 id="status-heading">Status</h2>
        <dl className="facts">
          <dt>Status</dt>
          <dd><Badge value={d.status} /></dd>
          <dt>App</dt>
          <dd><Link to={appPath(d.tenant, d.app)}>{d.app}</Link> {d.version} <span className="muted">({d.tenant})</span></dd>
          <dt>Replicas</dt>
          <dd>{d.replicas}</dd>
          <dt>Schedule</dt>
          <dd>{describe(d.schedule)}</dd>
          {d.next_start !== null && (
            <>
              <dt>Next start</dt>
              <dd><Time value={d.next_start} /></dd>
            </>
          )}
          {d.rollout && (
            <>
              <dt>Rollout</dt>
              <dd>from {d.rollout.from} to {d.rollout.to}, {d.rollout.grace_s} s per instance, since <Time value={d.rollout.started} /></dd>
            </>
          )}
          <dt>Link</dt>
          <dd>{d.link === null ? <span className="muted">none (its main service serves no HTTP, or not yet)</span> : <a href={d.link}>Open {d.app} ({d.link})</a>}</dd>
          <dt>Created</dt>
          <dd><Time value={d.created} /></dd>
          <dt>Updated</dt>
          <dd><Time value={d.updated} /></dd>
        </dl>
      </section>

      <section aria-labelledby="instances-heading">
        <h2 id="instances-heading">Instances</h2>
        {d.instances.length === 0 ? (
          <p className="muted">No instance placed.</p>
        ) : (
          <div className="table-wrap">
            <table className="data" aria-labelledby="instances-heading">
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">Replica</th>
                  <th scope="col">Version</th>
                  <th scope="col">State</th>
                  <th scope="col">Services</th>
                  <th scope="col">Restarts</th>
                  <th scope="col">Since</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {d.instances.map((i) => (
                  <tr key={`${i.node}/${i.replica}`}>
                    <td><Link to={`/nodes/${encodeURIComponent(i.node)}`}>{i.node}</Link></td>
                    <td>{i.replica}</td>
                    <td>{i.version ?? d.version}</td>
                    <td><Badge value={i.status} /></td>
                    <td>
                      {Object.entries(i.services ?? {}).map(([name, s]) => (
                        <div key={name}>
                          {name}: <Badge value={s.status} />
                          {s.exit_code !== null && s.exit_code !== undefined ? ` exit ${s.exit_code}` : ""}
                        </div>
                      ))}
                    </td>
                    <td>{Object.values(i.services ?? {}).reduce((n, s) => n + s.restarts, 0)}</td>
                    <td><Time value={i.since} /></td>
                    <td>{i.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <PlacementExplanation placement={d.placement} headingId="placement-heading" />

      <section aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">Status timeline</h2>
        <ol className="timeline" aria-labelledby="timeline-heading">
          {d.timeline.map((t, index) => (
            <li key={`${t.ts}-${index}`}>
              <Time value={t.ts} /> <Badge value={t.status} /> {t.reason}
            </li>
          ))}
        </ol>
      </section>

      <ChangeDeployment deployment={d} onLeaving={onLeaving} />
    </>
  );
}

interface UpdateValues {
  version: string;
  grace: string;
}

function ChangeDeployment({ deployment: d, onLeaving }: { deployment: Deployment; onLeaving: (leaving: boolean) => void }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const app = useApp(d.tenant, d.app);
  const others = (app.data?.versions ?? []).filter((v) => v.version !== d.version);
  const { register, handleSubmit, formState } = useForm<UpdateValues>({ defaultValues: { version: "", grace: "30" } });
  const update = useMutation({
    mutationFn: (values: UpdateValues) =>
      api<Deployment>(`/api/v1/deployments/${encodeURIComponent(d.id)}`, {
        method: "PATCH",
        json: { version: values.version, grace_s: Number(values.grace) },
      }),
    onSuccess: (updated) => { client.setQueryData(appKeys.deployment(d.id), updated); },
  });
  const undeploy = useMutation({
    mutationFn: () => api<undefined>(`/api/v1/deployments/${encodeURIComponent(d.id)}`, { method: "DELETE" }),
    onMutate: async () => {
      onLeaving(true);
      await client.cancelQueries({ queryKey: appKeys.deployment(d.id) });
    },
    onError: () => { onLeaving(false); },
    onSuccess: async () => {
      client.removeQueries({ queryKey: appKeys.deployment(d.id) });
      await client.invalidateQueries({ queryKey: appKeys.deployments });
      void navigate(appPath(d.tenant, d.app));
    },
  });
  const submit = handleSubmit((values) => { update.mutate(values); });
  return (
    <section className="panel" aria-labelledby="change-heading">
      <h2 id="change-heading">Update or undeploy</h2>
      <form onSubmit={(e) => { void submit(e); }} noValidate>
        <div className="form-row">
          <Field label="Update to version" error={formState.errors.version?.message}>
            {(props) => (
              <select {...props} {...register("version", { required: "Choose a version" })}>
                <option value="">{others.length === 0 ? "No other version pushed" : "Choose a version"}</option>
                {others.map((v) => (
                  <option key={v.version} value={v.version}>{v.version}</option>
                ))}
              </select>
            )}
          </Field>
          <Field
            label="Grace per instance (seconds)"
            hint="Each updated instance runs this long before the next; a failure within it rolls back"
            error={formState.errors.grace?.message}
          >
            {(props) => (
              <input
                {...props}
                type="number"
                min={1}
                max={3600}
                inputMode="numeric"
                {...register("grace", {
                  validate: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 3600) || "From 1 to 3600",
                })}
              />
            )}
          </Field>
          <div className="field">
            <button type="submit" disabled={update.isPending || others.length === 0}>
              {update.isPending ? "Updating…" : "Update"}
            </button>
          </div>
        </div>
      </form>
      <ErrorMessage error={app.error} />
      <ErrorMessage error={update.error} />
      <ScaleForm deployment={d} />
      <ConfirmButton
        label="Undeploy"
        confirmLabel="Undeploy for good"
        question={`Stop ${d.app} on every node and delete ${d.id}?`}
        onConfirm={() => { undeploy.mutate(); }}
        disabled={undeploy.isPending}
      />
      <ErrorMessage error={undeploy.error} />
    </section>
  );
}

function ScaleForm({ deployment: d }: { deployment: Deployment }) {
  const client = useQueryClient();
  const { register, handleSubmit, formState } = useForm<{ replicas: string }>({
    values: { replicas: String(d.replicas) },
  });
  const scale = useMutation({
    mutationFn: (replicas: number) =>
      api<Deployment>(`/api/v1/deployments/${encodeURIComponent(d.id)}`, { method: "PATCH", json: { replicas } }),
    onSuccess: (updated) => { client.setQueryData(appKeys.deployment(d.id), updated); },
  });
  const submit = handleSubmit((values) => { scale.mutate(Number(values.replicas)); });
  return (
    <>
      <form onSubmit={(e) => { void submit(e); }} noValidate>
        <div className="form-row">
          <Field label="Replicas" hint="1-64: instances are added on qualifying nodes, or the newest removed" error={formState.errors.replicas?.message}>
            {(props) => (
              <input
                {...props}
                type="number"
                min={1}
                max={64}
                inputMode="numeric"
                {...register("replicas", {
                  validate: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 64) || "From 1 to 64",
                })}
              />
            )}
          </Field>
          <div className="field">
            <button type="submit" disabled={scale.isPending}>
              {scale.isPending ? "Scaling…" : "Scale"}
            </button>
          </div>
        </div>
      </form>
      <ErrorMessage error={scale.error} />
    </>
  );
}
