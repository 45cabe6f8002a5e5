/** A text input whose value counts once the user is done with it (Enter or leaving the field), not per keystroke. */
import { useEffect, useState, type InputHTMLAttributes } from "react";

export function CommitInput({
  value,
  onCommit,
  ...input
}: { value: string; onCommit: (value: string) => void } & Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange">) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  const commit = () => {
    if (draft.trim() !== value) onCommit(draft.trim());
  };
  return (
    <input className="input" {...input} value={draft} onChange={(e) => setDraft(e.target.value)} onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          commit();
        }
      }} />
  );
}
