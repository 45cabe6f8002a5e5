/** The date range of a screen: a preset ("Last 7 days", ...) evaluated in the project's timezone. */
import { RANGE_PRESETS } from "../lib/time";

export function DateRangePicker({ value, onChange }: { value: string; onChange: (presetId: string) => void }) {
  return (
    <label className="select-inline">
      <span className="visually-hidden">Date range</span>
      <select value={value} onChange={(event) => onChange(event.target.value)} aria-label="Date range">
        {RANGE_PRESETS.map((preset) => (
          <option key={preset.id} value={preset.id}>
            {preset.label}
          </option>
        ))}
      </select>
    </label>
  );
}
