import { useForm } from "react-hook-form";
import { Navigate, useSearchParams } from "react-router";
import { ApiError } from "../lib/client";
import { useSession, useSignIn } from "../lib/session";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field, useTitle } from "../lib/controls";

interface Form {
  username: string;
  password: string;
}

/** What a refused sign-in says: the API's words, except the wait after too many failures, in seconds. Local
 * and directory (LDAP) users sign in alike; a directory that is away is the API's 503 message. */
function signInError(error: unknown): unknown {
  if (error instanceof ApiError && error.status === 429) {
    return error.retryAfterS === null
      ? "Too many attempts, try again later"
      : `Too many attempts, try again in ${String(error.retryAfterS)} s`;
  }
  return error;
}

/** Where to go after signing in: only a path of this portal, never another site. */
function safeNext(next: string | null): string {
  return next !== null && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function SignIn() {
  useTitle("Sign in");
  const session = useSession();
  const signIn = useSignIn();
  const [params] = useSearchParams();
  const { register, handleSubmit, formState } = useForm<Form>();
  if (session.data) return <Navigate to={safeNext(params.get("next"))} replace />;
  return (
    <main className="signin">
      <h1>Sign in to Fieldhub</h1>
      <form onSubmit={(e) => void handleSubmit((values) => { signIn.mutate(values); })(e)} noValidate>
        <Field label="Username" error={formState.errors.username?.message}>
          {(props) => <input {...props} autoComplete="username" {...register("username", { required: "Enter your username" })} />}
        </Field>
        <Field label="Password" error={formState.errors.password?.message}>
          {(props) => (
            <input {...props} type="password" autoComplete="current-password" {...register("password", { required: "Enter your password" })} />
          )}
        </Field>
        <ErrorMessage error={signInError(signIn.error)} />
        <button type="submit" disabled={signIn.isPending}>
          {signIn.isPending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
