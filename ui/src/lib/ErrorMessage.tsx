import { ApiError } from "./client";

/** An error as the API worded it (with each problem it listed), announced to screen readers. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "Unexpected error";
  const details = error instanceof ApiError ? error.details : [];
  return (
    <div className="error" role="alert">
      <p>{message}</p>
      {details.length > 0 && (
        <ul aria-label="Problems">
          {details.map((d, i) => (
            <li key={i}>
              {d.path !== "" && <code>{d.path}</code>} {d.problem}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
