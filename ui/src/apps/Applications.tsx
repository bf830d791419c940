// /applications: download the contract, upload a package, and every app the caller sees.
import { Link } from "react-router";
import { isPlatformAdmin, useCurrentSession } from "../lib/session";
import { ErrorMessage } from "../lib/ErrorMessage";
import { useTitle } from "../lib/controls";
import { ContractDownloads } from "./ContractDownloads";
import { appPath, useApps } from "./queries";
import { UploadForm } from "./UploadForm";

export function Applications() {
  useTitle("Apps");
  const session = useCurrentSession();
  const apps = useApps();
  return (
    <>
      <h1>Apps</h1>
      <ContractDownloads />
      <UploadForm />
      <section aria-labelledby="apps-heading">
        <h2 id="apps-heading">Apps{isPlatformAdmin(session) ? " of every tenant" : ""}</h2>
        {apps.isPending && <p className="loading" role="status">Loading apps…</p>}
        <ErrorMessage error={apps.error} />
        {apps.data !== undefined && apps.data.items.length === 0 && (
          <p className="muted">No app yet: upload a package above.</p>
        )}
        {apps.data !== undefined && apps.data.items.length > 0 && (
          <div className="table-wrap">
            <table className="data" aria-labelledby="apps-heading">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Tenant</th>
                  <th scope="col">Latest version</th>
                  <th scope="col">Versions</th>
                  <th scope="col">Description</th>
                </tr>
              </thead>
              <tbody>
                {apps.data.items.map((app) => (
                  <tr key={`${app.tenant}/${app.name}`}>
                    <td>
                      <Link to={appPath(app.tenant, app.name)}>{app.name}</Link>
                    </td>
                    <td>{app.tenant}</td>
                    <td>{app.latest}</td>
                    <td>{app.versions}</td>
                    <td>{app.description}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
