import { isPlatformAdmin, useCurrentSession } from "../lib/session";
import { useTitle } from "../lib/controls";
import { Tenants } from "./Tenants";
import { Users } from "./Users";

export function Admin() {
  const session = useCurrentSession();
  const platform = isPlatformAdmin(session);
  const title = platform ? "Tenants and users" : "Users";
  useTitle(title);
  if (session.role !== "admin") {
    return (
      <>
        <h1>Users</h1>
        <p>Only admins manage users. Ask an admin of your tenant.</p>
      </>
    );
  }
  return (
    <>
      <h1>{title}</h1>
      {!platform && <p className="muted">The users of tenant {session.tenant}.</p>}
      {platform && <Tenants />}
      <Users platform={platform} />
    </>
  );
}
