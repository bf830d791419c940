// Why a deployment went where it did: the decision in one line, then every node of the tenant, accepted or not.
import type { Placement } from "./types";

export function PlacementExplanation({ placement, headingId }: { placement: Placement | null; headingId: string }) {
  return (
    <section aria-labelledby={headingId}>
      <h3 id={headingId}>Placement</h3>
      {placement === null ? (
        <p className="muted">Not placed yet: a scheduled deployment is placed when its run starts.</p>
      ) : (
        <>
          <p className="placement-reason">{placement.reason}</p>
          {placement.candidates.length > 0 && (
            <div className="table-wrap">
              <table className="data" aria-label="Candidate nodes">
                <thead>
                  <tr>
                    <th scope="col">Node</th>
                    <th scope="col">Accepted</th>
                    <th scope="col">Rank</th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {placement.candidates.map((c) => (
                    <tr key={c.node}>
                      <td>{c.node}</td>
                      <td>{c.accepted ? "yes" : "no"}</td>
                      <td>{c.rank ?? "—"}</td>
                      <td>{c.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
