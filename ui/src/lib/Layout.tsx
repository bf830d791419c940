// The signed-in frame: skip link, navigation, who is signed in, and the page. Without a session: sign-in.
import { Navigate, NavLink, Outlet, useLocation } from "react-router";
import { isPlatformAdmin, useSession, useSignOut } from "./session";
import { ErrorMessage } from "./ErrorMessage";
import { AlarmsNavLabel } from "../alarms/parts";

export function Layout() {
  const session = useSession();
  const signOut = useSignOut();
  const location = useLocation();
  if (session.isPending) return <p className="loading" role="status">Loading…</p>;
  if (session.isError) return <main className="page"><ErrorMessage error={session.error} /></main>;
  if (session.data === null) {
    const next = location.pathname + location.search;
    return <Navigate to={`/signin?next=${encodeURIComponent(next)}`} replace />;
  }
  const user = session.data;
  const admin = user.role === "admin";
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <span className="brand">Fieldhub</span>
        <nav aria-label="Main">
          <ul>
            <li><NavLink to="/" end>Overview</NavLink></li>
            <li><NavLink to="/devices">Devices</NavLink></li>
            <li><NavLink to="/nodes">Nodes</NavLink></li>
            <li><NavLink to="/applications">Apps</NavLink></li>
            <li><NavLink to="/alarms"><AlarmsNavLabel /></NavLink></li>
            <li><NavLink to="/profiles">Profiles</NavLink></li>
            {admin && <li><NavLink to="/admin" end>{isPlatformAdmin(user) ? "Tenants and users" : "Users"}</NavLink></li>}
            {admin && <li><NavLink to="/admin/audit">Audit</NavLink></li>}
            <li><NavLink to="/account/api-keys">API keys</NavLink></li>
          </ul>
        </nav>
        <div className="whoami">
          <span>
            {user.username}
            <span className="muted"> · {user.role}{user.tenant === null ? " (platform)" : ` of ${user.tenant}`}</span>
          </span>
          <button type="button" className="secondary" onClick={() => { signOut.mutate(); }} disabled={signOut.isPending}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="page" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
