// The tenant a platform admin lists and acts in, kept in the address (`?tenant=`) so that reload, back and links
// keep it. Tenant users act in their own tenant: they get no picker, and the API its default (their tenant).
import { useSearchParams } from "react-router";
import { useTenants } from "../admin/queries";
import { Field } from "./controls";
import { ErrorMessage } from "./ErrorMessage";
import { isPlatformAdmin, useCurrentSession } from "./session";

/** The chosen tenant for the API's `tenant` parameter: null for tenant users, and for "every tenant". */
export function useTenantChoice(): string | null {
  const [params] = useSearchParams();
  const chosen = params.get("tenant");
  return isPlatformAdmin(useCurrentSession()) && chosen !== null && chosen !== "" ? chosen : null;
}

/** The `?tenant=` part of a link that keeps the choice (empty without one). */
export function tenantSearch(tenant: string | null): string {
  return tenant === null ? "" : `?${new URLSearchParams({ tenant }).toString()}`;
}

/** A "Tenant" select for platform admins ("every tenant", then each); nothing for anyone else. A new choice
 * starts a paged listing over (drops `offset`) and keeps the page's other parameters. */
export function TenantPicker() {
  const platform = isPlatformAdmin(useCurrentSession());
  const tenants = useTenants(platform);
  const [params, setParams] = useSearchParams();
  if (!platform) return null;
  const chosen = params.get("tenant") ?? "";
  const items = tenants.data?.items ?? [];
  const choose = (tenant: string) => {
    const next = new URLSearchParams(params);
    next.delete("offset");
    if (tenant === "") next.delete("tenant");
    else next.set("tenant", tenant);
    setParams(next);
  };
  return (
    <div className="toolbar">
      <Field label="Tenant" hint="Listed and acted in; with every tenant, what you create goes to default">
        {(props) => (
          <select {...props} value={chosen} onChange={(event) => { choose(event.target.value); }}>
            <option value="">every tenant</option>
            {/* A tenant from the address shows before the list arrives (and stays, should it not exist). */}
            {chosen !== "" && !items.some((t) => t.id === chosen) && <option value={chosen}>{chosen}</option>}
            {items.map((t) => (
              <option key={t.id} value={t.id}>{t.name === t.id ? t.id : `${t.name} (${t.id})`}</option>
            ))}
          </select>
        )}
      </Field>
      <ErrorMessage error={tenants.error} />
    </div>
  );
}
