// Users: the platform admin's everywhere, a tenant admin's in its own tenant (the API decides which). A user
// comes from the portal (local) or the directory (LDAP): the directory owns a directory user's password and role,
// so only disabling and deleting are offered for one.
import { useState } from "react";
import { useForm } from "react-hook-form";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Badge, ConfirmButton, Field } from "../lib/controls";
import { useCurrentSession } from "../lib/session";
import { useCreateUser, useDeleteUser, useTenants, useUpdateUser, useUsers, type Role, type User, type UserCreate } from "./queries";

const MIN_PASSWORD = 12;
/** The hub's own platform admin, which the API never lets be disabled or deleted. */
const PLATFORM_ADMIN = "admin";
const SOURCE_WORDS = { local: "local", ldap: "directory (LDAP)" } as const;
const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;

interface CreateForm {
  username: string;
  password: string;
  role: Role;
  tenant: string;
}

export function Users({ platform }: { platform: boolean }) {
  const users = useUsers();
  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      <NewUser platform={platform} />
      <ErrorMessage error={users.error} />
      {users.isPending && <p className="loading" role="status">Loading users…</p>}
      {users.data !== undefined && (
        <div className="table-wrap">
          <table className="data" aria-label="Users">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Role</th>
                <th scope="col">Tenant</th>
                <th scope="col">Source</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(users.data.items ?? []).map((user) => (
                <UserRow key={user.username} user={user} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function NewUser({ platform }: { platform: boolean }) {
  const tenants = useTenants(platform);
  const create = useCreateUser();
  const { register, handleSubmit, formState, reset } = useForm<CreateForm>({
    defaultValues: { username: "", password: "", role: "user", tenant: "default" },
  });
  const submit = (values: CreateForm) => {
    const body: UserCreate = { username: values.username.trim(), password: values.password, role: values.role };
    if (platform && values.tenant !== "") body.tenant = values.tenant;
    create.mutate(body, { onSuccess: () => { reset(); } });
  };
  return (
    <form className="panel" onSubmit={(e) => void handleSubmit(submit)(e)} noValidate aria-label="New user">
      <div className="form-row">
        <Field label="Username" error={formState.errors.username?.message}>
          {(props) => (
            <input
              {...props}
              autoComplete="off"
              {...register("username", {
                required: "Enter a username",
                pattern: { value: USERNAME, message: "Letters, digits, _ . @ and - (up to 64)" },
              })}
            />
          )}
        </Field>
        <Field label="Password" hint={`${MIN_PASSWORD} characters or more`} error={formState.errors.password?.message}>
          {(props) => (
            <input
              {...props}
              type="password"
              autoComplete="new-password"
              {...register("password", {
                required: "Enter a password",
                minLength: { value: MIN_PASSWORD, message: `At least ${MIN_PASSWORD} characters` },
              })}
            />
          )}
        </Field>
        <Field label="Role">
          {(props) => (
            <select {...props} {...register("role")}>
              <option value="user">user</option>
              <option value="admin">admin</option>
            </select>
          )}
        </Field>
        {/* Mounted once the tenants are known, so that it starts on "default", never on "none". */}
        {platform && tenants.data !== undefined && (
          <Field label="Tenant">
            {(props) => (
              <select {...props} {...register("tenant")}>
                {tenants.data.items.map((t) => (
                  <option key={t.id} value={t.id}>{t.name === t.id ? t.id : `${t.name} (${t.id})`}</option>
                ))}
                <option value="">none (a platform admin)</option>
              </select>
            )}
          </Field>
        )}
        <div className="field">
          <button type="submit" disabled={create.isPending}>Create user</button>
        </div>
      </div>
      <ErrorMessage error={tenants.error} />
      <ErrorMessage error={create.error} />
      {create.data !== undefined && (
        <p className="notice" role="status">
          User {create.data.username} created ({create.data.role}
          {create.data.tenant === null ? ", platform" : ` of ${create.data.tenant}`}).
        </p>
      )}
    </form>
  );
}

function UserRow({ user }: { user: User }) {
  const session = useCurrentSession();
  const update = useUpdateUser(user.username);
  const remove = useDeleteUser(user.username);
  const [role, setRole] = useState<Role>(user.role);
  const [resetting, setResetting] = useState(false);
  const [done, setDone] = useState("");
  const local = user.source === "local";
  // The platform admin cannot be disabled (the API says so too); nor can one lock oneself out from here.
  const canDisable = user.username !== PLATFORM_ADMIN && user.username !== session.username;
  const setDisabled = (disabled: boolean) => {
    update.mutate(
      { disabled },
      {
        onSuccess: () => {
          setDone(disabled ? `${user.username} is disabled; its sessions and API keys stopped working.` : `${user.username} is enabled again.`);
        },
      },
    );
  };
  return (
    <tr>
      <th scope="row">{user.username}</th>
      <td>{user.role}</td>
      <td>{user.tenant ?? <span className="muted">none (platform)</span>}</td>
      <td>{SOURCE_WORDS[user.source]}</td>
      <td><Badge value={user.disabled ? "disabled" : "enabled"} /></td>
      <td>
        <div className="toolbar">
          {local && <form
            className="form-row"
            aria-label={`Change the role of ${user.username}`}
            onSubmit={(e) => {
              e.preventDefault();
              update.mutate({ role }, { onSuccess: () => { setDone(`Role of ${user.username} is now ${role}.`); } });
            }}
          >
            <Field label={`Role of ${user.username}`}>
              {(props) => (
                <select {...props} value={role} onChange={(e) => { setRole(e.target.value as Role); }}>
                  <option value="user">user</option>
                  <option value="admin">admin</option>
                </select>
              )}
            </Field>
            <div className="field">
              <button type="submit" className="secondary" disabled={update.isPending || role === user.role}>
                Change role
              </button>
            </div>
          </form>}
          {!local && <p className="muted field">Role, tenant and password come from the directory.</p>}
          {!local ? null : resetting ? (
            <PasswordForm
              username={user.username}
              busy={update.isPending}
              onCancel={() => { setResetting(false); }}
              onSubmit={(password) => {
                update.mutate(
                  { password },
                  {
                    onSuccess: () => {
                      setResetting(false);
                      setDone(`Password of ${user.username} changed; its sessions ended.`);
                    },
                  },
                );
              }}
            />
          ) : (
            <div className="field">
              <button type="button" className="secondary" onClick={() => { setResetting(true); setDone(""); }}>
                Reset password
              </button>
            </div>
          )}
          {canDisable && (
            <div className="field">
              {user.disabled ? (
                <button type="button" className="secondary" disabled={update.isPending} onClick={() => { setDisabled(false); }} aria-label={`Enable ${user.username}`}>
                  Enable
                </button>
              ) : (
                <ConfirmButton
                  label="Disable"
                  name={`Disable ${user.username}`}
                  confirmLabel="Disable"
                  question={`Disable ${user.username}? It cannot sign in, and its sessions and API keys stop working at once.`}
                  onConfirm={() => { setDisabled(true); }}
                  disabled={update.isPending}
                />
              )}
            </div>
          )}
          <div className="field">
            <ConfirmButton
              label={`Delete ${user.username}`}
              confirmLabel="Delete"
              question={`Delete user ${user.username}? Its sessions end at once.`}
              onConfirm={() => { remove.mutate(); }}
              disabled={remove.isPending}
            />
          </div>
        </div>
        <ErrorMessage error={update.error} />
        <ErrorMessage error={remove.error} />
        {done !== "" && <p className="notice" role="status">{done}</p>}
      </td>
    </tr>
  );
}

function PasswordForm({
  username,
  busy,
  onSubmit,
  onCancel,
}: {
  username: string;
  busy: boolean;
  onSubmit: (password: string) => void;
  onCancel: () => void;
}) {
  const { register, handleSubmit, formState } = useForm<{ password: string }>({ defaultValues: { password: "" } });
  return (
    <form
      className="form-row"
      aria-label={`Reset the password of ${username}`}
      onSubmit={(e) => void handleSubmit((values) => { onSubmit(values.password); })(e)}
      noValidate
    >
      <Field label={`New password for ${username}`} error={formState.errors.password?.message}>
        {(props) => (
          <input
            {...props}
            type="password"
            autoComplete="new-password"
            {...register("password", {
              required: "Enter a password",
              minLength: { value: MIN_PASSWORD, message: `At least ${MIN_PASSWORD} characters` },
            })}
          />
        )}
      </Field>
      <div className="field">
        <button type="submit" disabled={busy}>Set password</button>
      </div>
      <div className="field">
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
