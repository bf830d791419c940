// Provisioning tokens: what `fieldhub agent enroll` needs to register a gateway. The secret is shown once.
import { useForm } from "react-hook-form";
import { isPlatformAdmin, useCurrentSession } from "../lib/session";
import { ErrorMessage } from "../lib/ErrorMessage";
import { ConfirmButton, CopyButton, Field, Time } from "../lib/controls";
import { useTenants } from "../admin/queries";
import { useCreateToken, useRevokeToken, useTokens, type TokenRequest } from "./queries";
import type { TokenCreated, TokenInfo } from "./types";

interface Form {
  tenant: string;
  hours: number;
  uses: number;
}

export function ProvisioningTokens() {
  const session = useCurrentSession();
  const platform = isPlatformAdmin(session);
  const tokens = useTokens(true);
  const tenants = useTenants(platform);
  const create = useCreateToken();
  const revoke = useRevokeToken();
  const { register, handleSubmit, formState } = useForm<Form>({ defaultValues: { tenant: "", hours: 24, uses: 1 } });
  const submit = (values: Form) => {
    const body: TokenRequest = { expires_in_s: Math.round(values.hours * 3600), uses: values.uses };
    if (platform && values.tenant !== "") body.tenant = values.tenant;
    create.mutate(body);
  };
  return (
    <section aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">Provisioning tokens</h2>
      <p className="muted">
        A gateway enrolls itself with a token: <code>fieldhub agent enroll --hub URL --token TOKEN</code>.
      </p>
      <form className="panel" onSubmit={(e) => void handleSubmit(submit)(e)} noValidate aria-label="New provisioning token">
        <div className="form-row">
          {platform && (
            <Field label="Tenant">
              {(props) => (
                <select {...props} {...register("tenant")}>
                  <option value="">default</option>
                  {tenants.data?.items
                    .filter((t) => t.id !== "default")
                    .map((t) => (
                      <option key={t.id} value={t.id}>{t.name === t.id ? t.id : `${t.name} (${t.id})`}</option>
                    ))}
                </select>
              )}
            </Field>
          )}
          <Field label="Valid for (hours)" error={formState.errors.hours?.message}>
            {(props) => (
              <input
                {...props}
                type="number"
                min={1}
                max={720}
                {...register("hours", {
                  valueAsNumber: true,
                  min: { value: 1, message: "At least 1 hour" },
                  max: { value: 720, message: "At most 720 hours (30 days)" },
                  required: "Enter how long the token is valid",
                })}
              />
            )}
          </Field>
          <Field label="Gateways it may enroll" error={formState.errors.uses?.message}>
            {(props) => (
              <input
                {...props}
                type="number"
                min={1}
                max={10000}
                {...register("uses", {
                  valueAsNumber: true,
                  min: { value: 1, message: "At least 1" },
                  max: { value: 10000, message: "At most 10000" },
                  required: "Enter how many gateways",
                })}
              />
            )}
          </Field>
          <div className="field">
            <button type="submit" disabled={create.isPending}>Create token</button>
          </div>
        </div>
        <ErrorMessage error={create.error} />
      </form>
      {create.data !== undefined && <NewToken token={create.data} onDone={() => { create.reset(); }} />}
      <ErrorMessage error={tokens.error} />
      <ErrorMessage error={revoke.error} />
      {tokens.data !== undefined &&
        (tokens.data.items.length === 0 ? (
          <p>No provisioning tokens.</p>
        ) : (
          <TokenTable tokens={tokens.data.items} onRevoke={(id) => { revoke.mutate(id); }} busy={revoke.isPending} />
        ))}
    </section>
  );
}

function NewToken({ token, onDone }: { token: TokenCreated; onDone: () => void }) {
  return (
    <div className="secret" role="region" aria-label="New provisioning token">
      <p>
        <strong>Token {token.id}</strong> for tenant {token.tenant}, valid until <Time value={token.expires} />. It is
        shown once: copy it now, the hub keeps only its hash.
      </p>
      <p>
        <code>{token.token}</code> <CopyButton text={token.token} label="Copy the provisioning token" />
      </p>
      <button type="button" className="secondary" onClick={onDone}>Done</button>
    </div>
  );
}

function TokenTable({ tokens, onRevoke, busy }: { tokens: TokenInfo[]; onRevoke: (id: string) => void; busy: boolean }) {
  return (
    <div className="table-wrap">
      <table className="data" aria-label="Provisioning tokens">
        <thead>
          <tr>
            <th scope="col">Token</th>
            <th scope="col">Tenant</th>
            <th scope="col">Uses left</th>
            <th scope="col">Expires</th>
            <th scope="col">Created by</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((token) => (
            <tr key={token.id}>
              <th scope="row"><code>{token.id}</code></th>
              <td>{token.tenant}</td>
              <td>{token.uses_left}</td>
              <td><Time value={token.expires} /></td>
              <td>{token.created_by}</td>
              <td>
                <ConfirmButton
                  label={`Revoke ${token.id}`}
                  confirmLabel="Revoke"
                  question={`Revoke token ${token.id}? Gateways can no longer enroll with it.`}
                  onConfirm={() => { onRevoke(token.id); }}
                  disabled={busy}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
