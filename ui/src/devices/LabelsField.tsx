import type { UseFormRegisterReturn } from "react-hook-form";
import { Field } from "../lib/controls";

/** The labels of a device as `key=value` lines; `register` carries the form's validation (parseLabels). */
export function LabelsField({ registration, error, rows }: { registration: UseFormRegisterReturn; error: string | undefined; rows: number }) {
  return (
    <Field label="Labels" hint="One key=value per line" error={error}>
      {(props) => <textarea {...props} className="code" rows={rows} {...registration} />}
    </Field>
  );
}
