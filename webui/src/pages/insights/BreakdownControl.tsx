/** Breakdown by one event or person property, with how many values get their own line (the rest: Other). */
import { useEffect, useId, useState, type FormEvent } from "react";
import type { Breakdown, PropertyType } from "./params";

export function BreakdownControl({
  value,
  onChange,
  propertyKeys,
}: {
  value: Breakdown | null;
  onChange: (breakdown: Breakdown | null) => void;
  propertyKeys: string[];
}) {
  const [key, setKey] = useState(value?.key ?? "");
  const [type, setType] = useState<PropertyType>(value?.type ?? "EVENT");
  const [limit, setLimit] = useState(String(value?.limit ?? 10));
  const listId = useId();
  useEffect(() => {
    setKey(value?.key ?? "");
    setType(value?.type ?? "EVENT");
    setLimit(String(value?.limit ?? 10));
  }, [value?.key, value?.type, value?.limit]);

  const limitNumber = Number(limit);
  const validLimit = Number.isInteger(limitNumber) && limitNumber >= 1 && limitNumber <= 50;
  const commit = (event?: FormEvent) => {
    event?.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      if (value) onChange(null);
      return;
    }
    if (!validLimit) return;
    if (trimmed !== value?.key || type !== value?.type || limitNumber !== value?.limit) {
      onChange({ key: trimmed, type, limit: limitNumber });
    }
  };

  return (
    <form className="ins-breakdown" onSubmit={commit} aria-label="Breakdown">
      <select aria-label="Breakdown property type" value={type} onChange={(e) => setType(e.target.value as PropertyType)}>
        <option value="EVENT">Event property</option>
        <option value="PERSON">Person property</option>
      </select>
      <input className="input" aria-label="Breakdown by" placeholder="none" list={listId} value={key}
        onChange={(e) => setKey(e.target.value)} onBlur={() => commit()} />
      <datalist id={listId}>
        {type === "EVENT" ? propertyKeys.map((k) => <option key={k} value={k} />) : null}
      </datalist>
      <label className="ins-inline-label">
        top
        <input className="input ins-limit" type="number" min={1} max={50} aria-label="Breakdown limit" value={limit}
          onChange={(e) => setLimit(e.target.value)} onBlur={() => commit()} aria-invalid={!validLimit} />
      </label>
      <button type="submit" className="button button-small">Apply</button>
      {value ? (
        <button type="button" className="button button-small button-ghost" onClick={() => onChange(null)}
          aria-label="Remove breakdown">
          ×
        </button>
      ) : null}
    </form>
  );
}
