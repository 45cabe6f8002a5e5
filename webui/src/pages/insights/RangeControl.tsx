/** The date range of a builder: a preset, or a custom [from, to) typed in the project's timezone. */
import { useEffect, useState, type FormEvent } from "react";
import { RANGE_PRESETS, type DateRange } from "../../lib/time";
import { instantToZonedLocal, type RangeChoice } from "./params";

export function RangeControl({
  value,
  resolved,
  timeZone,
  onChange,
}: {
  value: RangeChoice;
  /** The range `value` stands for now (prefills the custom inputs). */
  resolved: DateRange;
  timeZone: string;
  onChange: (range: RangeChoice) => void;
}) {
  const [draft, setDraft] = useState({ from: value.from, to: value.to });
  const [editing, setEditing] = useState(false);
  useEffect(() => setDraft({ from: value.from, to: value.to }), [value.from, value.to]);
  const custom = value.id === "custom" || editing;

  const choose = (id: string) => {
    if (id === "custom") {
      setDraft({
        from: instantToZonedLocal(new Date(resolved.from), timeZone),
        to: instantToZonedLocal(new Date(resolved.to), timeZone),
      });
      setEditing(true);
      return;
    }
    setEditing(false);
    onChange({ id, from: "", to: "" });
  };
  const valid = draft.from !== "" && draft.to !== "" && draft.from < draft.to;
  const apply = (event: FormEvent) => {
    event.preventDefault();
    if (!valid) return;
    setEditing(false);
    onChange({ id: "custom", from: draft.from, to: draft.to });
  };

  return (
    <div className="ins-range">
      <label className="select-inline">
        <span className="visually-hidden">Date range</span>
        <select aria-label="Date range" value={custom ? "custom" : value.id} onChange={(e) => choose(e.target.value)}>
          {RANGE_PRESETS.map((preset) => (
            <option key={preset.id} value={preset.id}>{preset.label}</option>
          ))}
          <option value="custom">Custom range…</option>
        </select>
      </label>
      {custom ? (
        <form className="ins-range-custom" onSubmit={apply} aria-label="Custom range">
          <input className="input" type="datetime-local" aria-label="From" value={draft.from}
            onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
          <span className="muted">→</span>
          <input className="input" type="datetime-local" aria-label="To" value={draft.to}
            onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
          <button type="submit" className="button button-small" disabled={!valid}
            title={valid ? `Times in ${timeZone}` : "From must be before To"}>
            Apply
          </button>
        </form>
      ) : null}
    </div>
  );
}
