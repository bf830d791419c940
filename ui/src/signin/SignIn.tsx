import { useForm } from "react-hook-form";
import { Navigate, useSearchParams } from "react-router";
import { useSession, useSignIn } from "../lib/session";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field, useTitle } from "../lib/controls";

interface Form {
  username: string;
  password: string;
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
        <ErrorMessage error={signIn.error} />
        <button type="submit" disabled={signIn.isPending}>
          {signIn.isPending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
