// A tenant's retention: how many days it keeps raw telemetry and log lines, or the hub's default (docs/api.md,
// PATCH /api/v1/tenants/{id}). The form checks only that a value is whole days; the range is the API's to judge,
// and its refusal is shown in its words.
import { useForm } from "react-hook-form";
import { Field } from "../lib/controls";
import type { Tenant } from "./queries";

/** A retention as the list shows it. */
export function retentionText(days: number | null | undefined): string {
  if (days === null || days === undefined) return "hub default";
  return days === 1 ? "1 day" : `${days} days`;
}

/** What the API takes for the form's text: empty is `null`, the hub's default. */
export interface Retention {
  telemetry_days: number | null;
  logs_days: number | null;
}

interface Form {
  telemetry: string;
  logs: string;
}

const WHOLE_DAYS = /^\d+$/;
const HINT = "Whole days, 1 to 36500; empty: the hub's default";

function asText(days: number | null | undefined): string {
  return days === null || days === undefined ? "" : String(days);
}

function asDays(text: string): number | null {
  const trimmed = text.trim();
  return trimmed === "" ? null : Number(trimmed);
}

function wholeDays(text: string): true | string {
  return text.trim() === "" || WHOLE_DAYS.test(text.trim()) || "Whole days, or empty for the hub's default";
}

export function RetentionForm({
  tenant,
  busy,
  onSubmit,
  onCancel,
}: {
  tenant: Tenant;
  busy: boolean;
  onSubmit: (retention: Retention) => void;
  onCancel: () => void;
}) {
  const { register, handleSubmit, formState } = useForm<Form>({
    defaultValues: { telemetry: asText(tenant.telemetry_days), logs: asText(tenant.logs_days) },
  });
  return (
    <form
      className="form-row"
      aria-label={`Retention of tenant ${tenant.id}`}
      onSubmit={(e) =>
        void handleSubmit((values) => {
          onSubmit({ telemetry_days: asDays(values.telemetry), logs_days: asDays(values.logs) });
        })(e)
      }
      noValidate
    >
      <Field label={`Telemetry days of ${tenant.id}`} hint={HINT} error={formState.errors.telemetry?.message}>
        {(props) => <input {...props} type="number" inputMode="numeric" autoComplete="off" {...register("telemetry", { validate: wholeDays })} />}
      </Field>
      <Field label={`Log days of ${tenant.id}`} hint={HINT} error={formState.errors.logs?.message}>
        {(props) => <input {...props} type="number" inputMode="numeric" autoComplete="off" {...register("logs", { validate: wholeDays })} />}
      </Field>
      <div className="field">
        <button type="submit" disabled={busy}>Save retention</button>
      </div>
      <div className="field">
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
