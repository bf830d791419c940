// Push a package: a labelled file input, the tenant for platform admins, a progress bar, and the hub's verdict
// (every problem of a refused package, or the version pushed with a link to its app).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useForm, useWatch } from "react-hook-form";
import { Link } from "react-router";
import { isPlatformAdmin, useCurrentSession } from "../lib/session";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field } from "../lib/controls";
import { appKeys, appPath, formatBytes } from "./queries";
import { uploadPackage } from "./upload";

interface UploadValues {
  package: FileList | null;
  tenant: string;
}

export function UploadForm() {
  const session = useCurrentSession();
  const admin = isPlatformAdmin(session);
  const client = useQueryClient();
  const [progress, setProgress] = useState<number | null>(null);
  const { register, handleSubmit, formState, control } = useForm<UploadValues>({
    defaultValues: { package: null, tenant: "" },
  });
  const chosen = useWatch({ control, name: "package" })?.[0];
  const upload = useMutation({
    mutationFn: ({ file, tenant }: { file: File; tenant: string | null }) => {
      setProgress(0);
      return uploadPackage(file, tenant, setProgress);
    },
    onSettled: () => client.invalidateQueries({ queryKey: appKeys.list }),
  });
  const submit = handleSubmit((values) => {
    const file = values.package?.[0];
    if (file === undefined) return;
    upload.mutate({ file, tenant: admin && values.tenant.trim() !== "" ? values.tenant.trim() : null });
  });
  const percent = progress === null ? 0 : Math.round(progress * 100);
  const pushed = upload.data;
  return (
    <section className="panel" aria-labelledby="upload-heading">
      <h2 id="upload-heading">Upload a package</h2>
      <form onSubmit={(e) => { void submit(e); }} noValidate>
        <div className="form-row">
          <Field
            label="App package (zip)"
            hint="fieldhub-app.toml at its root; at most 50 MiB"
            error={formState.errors.package?.message}
          >
            {(props) => (
              <input
                {...props}
                type="file"
                accept=".zip,application/zip"
                {...register("package", {
                  validate: (files) => (files !== null && files.length > 0) || "Choose a zip file to upload",
                })}
              />
            )}
          </Field>
          {admin && (
            <Field label="Tenant" hint="Leave empty for the default tenant">
              {(props) => <input {...props} {...register("tenant")} autoComplete="off" />}
            </Field>
          )}
          <div className="field">
            <button type="submit" disabled={upload.isPending}>
              {upload.isPending ? "Uploading…" : "Upload"}
            </button>
          </div>
        </div>
        {chosen !== undefined && (
          <p className="muted">
            {chosen.name}, {formatBytes(chosen.size)}
          </p>
        )}
      </form>
      {progress !== null && (
        <div className="upload-progress">
          <progress id="upload-progress" className="progress" max={100} value={percent} aria-label="Upload progress" />{" "}
          <span aria-live="polite">{upload.isPending && percent === 100 ? "100%, checking the package…" : `${percent}%`}</span>
        </div>
      )}
      {upload.isError && (
        <>
          <h3>The hub refused the package</h3>
          <ErrorMessage error={upload.error} />
        </>
      )}
      {pushed !== undefined && (
        <p className="notice" role="status">
          Pushed {pushed.name} version <strong>{pushed.version}</strong> ({formatBytes(pushed.size)}).{" "}
          <Link to={appPath(pushed.tenant, pushed.name)}>Open {pushed.name}</Link>
        </p>
      )}
    </section>
  );
}
