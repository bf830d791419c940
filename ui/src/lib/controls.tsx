// Small shared controls: each is labelled for screen readers and usable with the keyboard.
import { useEffect, useId, useState, type ReactNode } from "react";

/** Set the document title (screen readers announce it on navigation). */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Fieldhub`;
  }, [title]);
}

/** Copies `text` to the clipboard and says so. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<"" | "copied" | "failed">("");
  const copy = () => {
    navigator.clipboard.writeText(text).then(
      () => { setDone("copied"); },
      () => { setDone("failed"); },
    );
  };
  return (
    <>
      <button type="button" className="secondary" onClick={copy} aria-label={label}>
        Copy
      </button>
      <span role="status" className="muted">
        {done === "copied" ? " Copied" : done === "failed" ? " Copy failed: select the text and copy it" : ""}
      </span>
    </>
  );
}

/** A destructive action that asks once more in place before it runs. */
export function ConfirmButton({
  label,
  confirmLabel,
  question,
  onConfirm,
  disabled = false,
  name,
}: {
  label: string;
  /** The button's accessible name where `label` alone is ambiguous (one per row of a table). */
  name?: string;
  confirmLabel: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className="danger" onClick={() => { setAsking(true); }} disabled={disabled} aria-label={name}>
        {label}
      </button>
    );
  }
  return (
    <span role="group" aria-label={question} className="confirm">
      <span>{question}</span>{" "}
      <button
        type="button"
        className="danger"
        ref={(button) => { button?.focus(); }}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>{" "}
      <button type="button" className="secondary" onClick={() => { setAsking(false); }}>
        Cancel
      </button>
    </span>
  );
}

/** Previous/next through a listing of `total` items, `limit` at a time. */
export function Pager({
  offset,
  limit,
  total,
  onChange,
}: {
  offset: number;
  limit: number;
  total: number;
  onChange: (offset: number) => void;
}) {
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, total);
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="secondary" disabled={offset === 0} onClick={() => { onChange(Math.max(0, offset - limit)); }}>
        Previous
      </button>
      <span aria-live="polite">
        {first}–{last} of {total}
      </span>
      <button type="button" className="secondary" disabled={last >= total} onClick={() => { onChange(offset + limit); }}>
        Next
      </button>
    </nav>
  );
}

/** A labelled form field around one input (the input gets the id). */
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string;
  error?: string | undefined;
  children: (props: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ReactNode;
}) {
  const id = useId();
  const described = [hint === undefined ? "" : `${id}-hint`, error === undefined ? "" : `${id}-error`]
    .filter((s) => s !== "")
    .join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, ...(described === "" ? {} : { "aria-describedby": described }), ...(error === undefined ? {} : { "aria-invalid": true }) })}
      {hint !== undefined && <small id={`${id}-hint`} className="muted">{hint}</small>}
      {error !== undefined && <small id={`${id}-error`} className="field-error">{error}</small>}
    </div>
  );
}

/** A coloured word for a state (online, running, failed…); the word itself carries the meaning. */
export function Badge({ value }: { value: string }) {
  return <span className={`badge badge-${value.replace(/[^a-z_-]/gi, "")}`}>{value}</span>;
}

/** An RFC 3339 time as the reader's local time, with the exact value on hover. */
export function Time({ value }: { value: string | number | null | undefined }) {
  if (value === null || value === undefined) return <span className="muted">never</span>;
  const date = typeof value === "number" ? new Date(value) : new Date(value);
  return <time dateTime={date.toISOString()} title={date.toISOString()}>{date.toLocaleString()}</time>;
}
