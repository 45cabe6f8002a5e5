/** A labelled form input, with an optional hint. */
import type { InputHTMLAttributes, ReactNode } from "react";

export function Field({ label, hint, ...input }: { label: string; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      <input className="input" {...input} />
      {hint ? <span className="field-hint">{hint}</span> : null}
    </label>
  );
}
