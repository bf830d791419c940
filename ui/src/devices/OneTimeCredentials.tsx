import { CopyButton, Field } from "../lib/controls";
import type { Credentials } from "./queries";

/** A device's MQTT credentials, which the hub shows only in the answer that made them. */
export function OneTimeCredentials({ credentials, title }: { credentials: Credentials; title: string }) {
  return (
    <section className="secret" aria-label={title}>
      <h3>{title}</h3>
      <p>
        <strong>Shown once:</strong> copy the password now. The hub keeps only its hash and cannot show it again;
        if it is lost, rotate the credentials.
      </p>
      <Field label="Username">
        {(props) => (
          <span className="secret-value">
            <input {...props} readOnly value={credentials.username} />
            <CopyButton text={credentials.username} label="Copy username" />
          </span>
        )}
      </Field>
      <Field label="Password">
        {(props) => (
          <span className="secret-value">
            <input {...props} readOnly value={credentials.password} className="code" />
            <CopyButton text={credentials.password} label="Copy password" />
          </span>
        )}
      </Field>
    </section>
  );
}
