// Tenants, for the platform admin: listed and created.
import { useForm } from "react-hook-form";
import { ErrorMessage } from "../lib/ErrorMessage";
import { Field, Time } from "../lib/controls";
import { useCreateTenant, useTenants } from "./queries";

interface Form {
  name: string;
  id: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function Tenants() {
  const tenants = useTenants();
  const create = useCreateTenant();
  const { register, handleSubmit, formState, reset } = useForm<Form>({ defaultValues: { name: "", id: "" } });
  const submit = (values: Form) => {
    const id = values.id.trim();
    create.mutate(id === "" ? { name: values.name.trim() } : { name: values.name.trim(), id }, {
      onSuccess: () => { reset(); },
    });
  };
  return (
    <section aria-labelledby="tenants-heading">
      <h2 id="tenants-heading">Tenants</h2>
      <form className="panel" onSubmit={(e) => void handleSubmit(submit)(e)} noValidate aria-label="New tenant">
        <div className="form-row">
          <Field label="Tenant name" error={formState.errors.name?.message}>
            {(props) => <input {...props} {...register("name", { required: "Enter a name", maxLength: { value: 128, message: "At most 128 characters" } })} />}
          </Field>
          <Field label="Tenant id (optional)" hint="Letters, digits, ., - and _; generated when empty" error={formState.errors.id?.message}>
            {(props) => (
              <input
                {...props}
                {...register("id", {
                  validate: (v) => v.trim() === "" || ID_PATTERN.test(v.trim()) || "Letters, digits, ., - and _ (up to 64), starting with a letter or digit",
                })}
              />
            )}
          </Field>
          <div className="field">
            <button type="submit" disabled={create.isPending}>Create tenant</button>
          </div>
        </div>
        <ErrorMessage error={create.error} />
        {create.data !== undefined && <p className="notice" role="status">Tenant {create.data.id} created.</p>}
      </form>
      <ErrorMessage error={tenants.error} />
      {tenants.data !== undefined && (
        <div className="table-wrap">
          <table className="data" aria-label="Tenants">
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {tenants.data.items.map((t) => (
                <tr key={t.id}>
                  <th scope="row">{t.id}</th>
                  <td>{t.name}</td>
                  <td><Time value={t.created} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
