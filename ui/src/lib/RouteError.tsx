import { Link, useRouteError } from "react-router";
import { ErrorMessage } from "./ErrorMessage";

/** What a page that threw shows instead of a blank screen. */
export function RouteError() {
  const error = useRouteError();
  return (
    <main className="page">
      <h1>Something went wrong</h1>
      <ErrorMessage error={error} />
      <p><Link to="/">Back to the overview</Link></p>
    </main>
  );
}

export function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p><Link to="/">Back to the overview</Link></p>
    </>
  );
}
