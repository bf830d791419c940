// Deploy a version: replicas and a schedule (now, at a time, in a window, or by cron), then the placement
// explanation the hub answers with and a link to the new deployment's page.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useForm, useWatch } from "react-hook-form";
import { Link } from "react-router";
import { api } from "../lib/client";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, Field } from "../lib/controls";
import { PlacementExplanation } from "./PlacementExplanation";
import { appKeys } from "./queries";
import { manifestOf, type AppVersion, type Deployment, type Schedule } from "./types";

interface DeployValues {
  version: string;
  replicas: string;
  kind: Schedule["kind"];
  start: string;
  end: string;
  cron: string;
  duration: string;
  timezone: string;
}

/** A datetime-local value (the reader's local time) as RFC 3339 UTC, which the API takes. */
function rfc3339(local: string): string {
  return new Date(local).toISOString();
}

function schedule(values: DeployValues): Schedule {
  switch (values.kind) {
    case "now":
      return { kind: "now" };
    case "at":
      return { kind: "at", start: rfc3339(values.start) };
    case "window":
      return { kind: "window", start: rfc3339(values.start), end: rfc3339(values.end) };
    case "cron":
      return {
        kind: "cron",
        cron: values.cron.trim(),
        duration_s: Number(values.duration),
        timezone: values.timezone.trim() || "UTC", // the hub's default
      };
  }
}

export function DeployForm({ tenant, app, versions }: { tenant: string; app: string; versions: AppVersion[] }) {
  const client = useQueryClient();
  const newest = versions[0];
  const { register, handleSubmit, formState, control } = useForm<DeployValues>({
    defaultValues: {
      version: newest?.version ?? "",
      replicas: "",
      kind: "now",
      start: "",
      end: "",
      cron: "",
      duration: "",
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    },
  });
  const kind = useWatch({ control, name: "kind" });
  const deploy = useMutation({
    mutationFn: (values: DeployValues) =>
      api<Deployment>("/api/v1/deployments", {
        method: "POST",
        query: { tenant },
        json: {
          app,
          version: values.version,
          ...(values.replicas.trim() === "" ? {} : { replicas: Number(values.replicas) }),
          schedule: schedule(values),
        },
      }),
    onSuccess: (created) => {
      client.setQueryData(appKeys.deployment(created.id), created);
      void client.invalidateQueries({ queryKey: appKeys.deployments });
    },
  });
  const submit = handleSubmit((values) => { deploy.mutate(values); });
  const errors = formState.errors;
  const required = (what: string) => ({ required: `${what} is required` });
  const created = deploy.data;
  return (
    <section className="panel" aria-labelledby="deploy-heading">
      <h2 id="deploy-heading">Deploy</h2>
      <form onSubmit={(e) => { void submit(e); }} noValidate>
        <div className="form-row">
          <Field label="Version" error={errors.version?.message}>
            {(props) => (
              <select {...props} {...register("version", required("A version"))}>
                {versions.map((v) => (
                  <option key={v.version} value={v.version}>{v.version}</option>
                ))}
              </select>
            )}
          </Field>
          <Field
            label="Replicas"
            hint={`1-64; empty: the manifest's (${(newest && manifestOf(newest))?.placement?.replicas ?? 1})`}
            error={errors.replicas?.message}
          >
            {(props) => (
              <input
                {...props}
                type="number"
                min={1}
                max={64}
                inputMode="numeric"
                {...register("replicas", {
                  validate: (v) =>
                    v.trim() === "" || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 64) || "From 1 to 64",
                })}
              />
            )}
          </Field>
          <Field label="Schedule">
            {(props) => (
              <select {...props} {...register("kind")}>
                <option value="now">Now, until deleted</option>
                <option value="at">From a time, until deleted</option>
                <option value="window">In a time window</option>
                <option value="cron">Repeating (cron)</option>
              </select>
            )}
          </Field>
        </div>
        {kind !== "now" && (
          <fieldset>
            <legend>When it runs</legend>
            <div className="form-row">
              {(kind === "at" || kind === "window") && (
                <Field label="Start" hint="Your local time" error={errors.start?.message}>
                  {(props) => <input {...props} type="datetime-local" {...register("start", required("A start"))} />}
                </Field>
              )}
              {kind === "window" && (
                <Field label="End" hint="Your local time" error={errors.end?.message}>
                  {(props) => <input {...props} type="datetime-local" {...register("end", required("An end"))} />}
                </Field>
              )}
              {kind === "cron" && (
                <>
                  <Field
                    label="Cron expression"
                    hint="minute hour day month weekday, e.g. 0 8 * * MON-FRI"
                    error={errors.cron?.message}
                  >
                    {(props) => <input {...props} {...register("cron", required("A cron expression"))} autoComplete="off" />}
                  </Field>
                  <Field label="Duration of each run (seconds)" error={errors.duration?.message}>
                    {(props) => (
                      <input
                        {...props}
                        type="number"
                        min={1}
                        inputMode="numeric"
                        {...register("duration", {
                          validate: (v) => (/^\d+$/.test(v) && Number(v) >= 1) || "A whole number of seconds, 1 or more",
                        })}
                      />
                    )}
                  </Field>
                  <Field label="Time zone" hint="IANA name, e.g. Europe/Riga; empty: UTC">
                    {(props) => <input {...props} {...register("timezone")} autoComplete="off" />}
                  </Field>
                </>
              )}
            </div>
          </fieldset>
        )}
        <button type="submit" disabled={deploy.isPending || versions.length === 0}>
          {deploy.isPending ? "Deploying…" : "Deploy"}
        </button>
      </form>
      <ErrorMessage error={deploy.error} />
      {created !== undefined && (
        <div className="notice deploy-result" role="status">
          <p>
            Deployment <Link to={`/deployments/${created.id}`}>{created.id}</Link> of {created.app} {created.version}:{" "}
            <Badge value={created.status} />
          </p>
          <PlacementExplanation placement={created.placement} headingId="deploy-placement-heading" />
          <p>
            <Link to={`/deployments/${created.id}`}>Open deployment {created.id}</Link>
          </p>
        </div>
      )}
    </section>
  );
}
