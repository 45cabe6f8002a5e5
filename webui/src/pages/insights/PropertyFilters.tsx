/**
 * Property filters as removable tags ("plan = pro ×"), and a small form to add one: event or
 * person property, key (suggested from the project's properties), operator and value.
 */
import { useId, useState, type FormEvent } from "react";
import { OPERATORS, type FilterOperator, type PropertyFilter, type PropertyType } from "./params";

function valueText(filter: PropertyFilter): string {
  if (filter.value === null) return "";
  if (Array.isArray(filter.value)) return filter.value.join(", ");
  return String(filter.value);
}

export function filterLabel(filter: PropertyFilter): string {
  const op = OPERATORS.find((o) => o.id === filter.operator)?.symbol ?? filter.operator;
  const value = valueText(filter);
  return `${filter.key} ${op}${value ? ` ${value}` : ""}`;
}

function parseValue(operator: FilterOperator, text: string): PropertyFilter["value"] {
  if (operator === "IS_SET" || operator === "IS_NOT_SET") return null;
  if (operator === "IN") return text.split(",").map((v) => v.trim()).filter(Boolean);
  if (operator === "GT" || operator === "LT") return Number(text);
  return text;
}

export function PropertyFilters({
  filters,
  onChange,
  propertyKeys,
  label = "Filters",
  addLabel = "Add filter",
}: {
  filters: PropertyFilter[];
  onChange: (filters: PropertyFilter[]) => void;
  propertyKeys: string[];
  label?: string;
  addLabel?: string;
}) {
  const [adding, setAdding] = useState(false);
  const [type, setType] = useState<PropertyType>("EVENT");
  const [key, setKey] = useState("");
  const [operator, setOperator] = useState<FilterOperator>("EQ");
  const [value, setValue] = useState("");
  const listId = useId();
  const needsValue = operator !== "IS_SET" && operator !== "IS_NOT_SET";
  const numeric = operator === "GT" || operator === "LT";
  const valid = key.trim() !== "" && (!needsValue || value.trim() !== "") && (!numeric || Number.isFinite(Number(value)));

  const add = (event: FormEvent) => {
    event.preventDefault();
    if (!valid) return;
    onChange([...filters, { key: key.trim(), operator, value: parseValue(operator, value.trim()), type }]);
    setKey("");
    setValue("");
    setAdding(false);
  };

  return (
    <div className="ins-filters" role="group" aria-label={label}>
      {filters.map((filter, index) => (
        <span className="ins-tag" key={`${index}-${filter.key}`} data-testid="filter-tag">
          {filter.type === "PERSON" ? <span className="ins-tag-kind" title="Person property">person</span> : null}
          <span>{filterLabel(filter)}</span>
          <button type="button" className="ins-tag-remove" aria-label={`Remove filter ${filterLabel(filter)}`}
            onClick={() => onChange(filters.filter((_, i) => i !== index))}>
            ×
          </button>
        </span>
      ))}
      {adding ? (
        <form className="ins-filter-form" onSubmit={add} aria-label={addLabel}>
          <select aria-label="Property type" value={type} onChange={(e) => setType(e.target.value as PropertyType)}>
            <option value="EVENT">Event property</option>
            <option value="PERSON">Person property</option>
          </select>
          <input className="input" aria-label="Property" placeholder="property" list={listId} value={key}
            onChange={(e) => setKey(e.target.value)} autoFocus />
          <datalist id={listId}>
            {type === "EVENT" ? propertyKeys.map((k) => <option key={k} value={k} />) : null}
          </datalist>
          <select aria-label="Operator" value={operator} onChange={(e) => setOperator(e.target.value as FilterOperator)}>
            {OPERATORS.map((op) => <option key={op.id} value={op.id}>{op.label}</option>)}
          </select>
          {needsValue ? (
            <input className="input" aria-label="Value" placeholder={operator === "IN" ? "a, b, c" : "value"}
              inputMode={numeric ? "decimal" : undefined} value={value} onChange={(e) => setValue(e.target.value)} />
          ) : null}
          <button type="submit" className="button button-small button-primary" disabled={!valid}>Add</button>
          <button type="button" className="button button-small button-ghost" onClick={() => setAdding(false)}>Cancel</button>
        </form>
      ) : (
        <button type="button" className="button button-small button-ghost ins-add" onClick={() => setAdding(true)}>
          + {addLabel}
        </button>
      )}
    </div>
  );
}
