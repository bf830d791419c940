// "Download the contract": the manifest's JSON Schema (and the schedule's), and the template app as a zip.
import { useState } from "react";
import { Field } from "../lib/controls";

const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function ContractDownloads() {
  const [name, setName] = useState("my-app");
  const valid = APP_NAME.test(name);
  return (
    <section className="panel" aria-labelledby="contract-heading">
      <h2 id="contract-heading">Download the contract</h2>
      <p>
        An app is a zip with <code>fieldhub-app.toml</code> at its root. Start from the template app (it serves HTTP
        on <code>$PORT</code> with <code>/healthz</code> and passes the hub&apos;s checks), and check your manifest
        against its JSON Schema.
      </p>
      <ul className="downloads">
        <li>
          <a href="/api/v1/contracts/app-manifest" download="app-manifest.schema.json">
            Manifest schema (JSON Schema)
          </a>
        </li>
        <li>
          <a href="/api/v1/contracts/deployment-schedule" download="deployment-schedule.schema.json">
            Deployment schedule schema (JSON Schema)
          </a>
        </li>
      </ul>
      <div className="form-row">
        <Field
          label="Template app name"
          hint="1-63 of a-z, 0-9 and '-'"
          error={valid ? undefined : "Use 1-63 of a-z, 0-9 and '-', starting and ending with a letter or digit"}
        >
          {(props) => (
            <input {...props} value={name} onChange={(e) => { setName(e.target.value); }} autoComplete="off" />
          )}
        </Field>
        <div className="field">
          {valid ? (
            <a className="button" href={`/api/v1/app-template?name=${encodeURIComponent(name)}`} download={`${name}.zip`}>
              Download the template app
            </a>
          ) : (
            <span className="muted">Choose a valid name to download the template</span>
          )}
        </div>
      </div>
    </section>
  );
}
