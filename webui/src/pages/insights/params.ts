/**
 * The builders' state as it lives in the URL query string (so an insight or a funnel can be
 * bookmarked, shared and reloaded): small readers that fall back to defaults on anything malformed,
 * and the date range (a preset, or a custom range typed in the project's timezone).
 */
import { presetById, RANGE_PRESETS, wallClockToInstant, zoneOffsetMs, type DateRange, type Interval } from "../../lib/time";

export type PropertyType = "EVENT" | "PERSON";
export type FilterOperator = "EQ" | "NEQ" | "CONTAINS" | "NOT_CONTAINS" | "GT" | "LT" | "IS_SET" | "IS_NOT_SET" | "IN";

/** A property filter as the API takes it (PropertyFilterInput). */
export interface PropertyFilter {
  key: string;
  operator: FilterOperator;
  value: string | number | string[] | null;
  type: PropertyType;
}

export interface Breakdown {
  key: string;
  type: PropertyType;
  limit: number;
}

export const OPERATORS: { id: FilterOperator; label: string; symbol: string }[] = [
  { id: "EQ", label: "equals", symbol: "=" },
  { id: "NEQ", label: "does not equal", symbol: "≠" },
  { id: "CONTAINS", label: "contains", symbol: "contains" },
  { id: "NOT_CONTAINS", label: "does not contain", symbol: "does not contain" },
  { id: "GT", label: "greater than", symbol: ">" },
  { id: "LT", label: "less than", symbol: "<" },
  { id: "IN", label: "is one of", symbol: "in" },
  { id: "IS_SET", label: "is set", symbol: "is set" },
  { id: "IS_NOT_SET", label: "is not set", symbol: "is not set" },
];

export const INTERVALS: { id: Interval; label: string; ms: number }[] = [
  { id: "MINUTE", label: "Minute", ms: 60_000 },
  { id: "HOUR", label: "Hour", ms: 3_600_000 },
  { id: "DAY", label: "Day", ms: 86_400_000 },
  { id: "WEEK", label: "Week", ms: 7 * 86_400_000 },
  { id: "MONTH", label: "Month", ms: 28 * 86_400_000 },
];

/** The server refuses more buckets than this (query/analytics/intervals.py MAX_BUCKETS). */
export const MAX_BUCKETS = 5000;

/** Enriched event columns every event may be filtered or broken down by. */
export const ENRICHED_PROPERTIES = [
  "$browser", "$browser_version", "$os", "$os_version", "$device_type", "$country", "$region", "$city",
  "$referring_domain", "$referrer_channel", "$utm_source", "$utm_medium", "$utm_campaign", "$utm_term",
  "$utm_content", "$pathname", "$current_url", "$referrer", "$title",
];

export function readJson<T>(params: URLSearchParams, name: string, valid: (value: unknown) => value is T, fallback: T): T {
  const raw = params.get(name);
  if (!raw) return fallback;
  try {
    const value: unknown = JSON.parse(raw);
    return valid(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isFilter(value: unknown): value is PropertyFilter {
  return (
    isRecord(value) &&
    typeof value["key"] === "string" &&
    OPERATORS.some((op) => op.id === value["operator"]) &&
    (value["type"] === "EVENT" || value["type"] === "PERSON")
  );
}

export function isFilterList(value: unknown): value is PropertyFilter[] {
  return Array.isArray(value) && value.every(isFilter);
}

export function readFilters(params: URLSearchParams, name = "filters"): PropertyFilter[] {
  return readJson(params, name, isFilterList, []);
}

export function writeFilters(params: URLSearchParams, filters: PropertyFilter[], name = "filters"): void {
  if (filters.length) params.set(name, JSON.stringify(filters));
  else params.delete(name);
}

/** Filters as the API takes them: only the fields of PropertyFilterInput. */
export function filterInputs(filters: PropertyFilter[]) {
  return filters.map(({ key, operator, value, type }) => ({ key, operator, value, type }));
}

export function readBreakdown(params: URLSearchParams): Breakdown | null {
  const key = params.get("breakdown");
  if (!key) return null;
  const limit = Number(params.get("breakdownLimit") ?? 10);
  return {
    key,
    type: params.get("breakdownType") === "PERSON" ? "PERSON" : "EVENT",
    limit: Number.isInteger(limit) && limit >= 1 && limit <= 50 ? limit : 10,
  };
}

export function writeBreakdown(params: URLSearchParams, breakdown: Breakdown | null): void {
  params.delete("breakdown");
  params.delete("breakdownType");
  params.delete("breakdownLimit");
  if (!breakdown || !breakdown.key) return;
  params.set("breakdown", breakdown.key);
  if (breakdown.type !== "EVENT") params.set("breakdownType", breakdown.type);
  if (breakdown.limit !== 10) params.set("breakdownLimit", String(breakdown.limit));
}

// ---- Date range ----

export interface RangeChoice {
  /** A preset id of RANGE_PRESETS, or "custom". */
  id: string;
  /** Custom bounds as local wall-clock times in the project's zone, "YYYY-MM-DDTHH:MM". */
  from: string;
  to: string;
}

const LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;

export function readRange(params: URLSearchParams, fallback: string): RangeChoice {
  const id = params.get("range") ?? fallback;
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";
  if (id === "custom" && LOCAL.test(from) && LOCAL.test(to)) return { id, from, to };
  return { id: RANGE_PRESETS.some((p) => p.id === id) ? id : fallback, from: "", to: "" };
}

export function writeRange(params: URLSearchParams, range: RangeChoice): void {
  params.set("range", range.id);
  if (range.id === "custom") {
    params.set("from", range.from);
    params.set("to", range.to);
  } else {
    params.delete("from");
    params.delete("to");
  }
}

/** A wall-clock time in the zone ("2026-12-04T09:30") as an instant. */
export function zonedLocalToInstant(local: string, timeZone: string): Date {
  const [date = "", time = "00:00"] = local.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  return wallClockToInstant(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1, hh ?? 0, mm ?? 0), timeZone);
}

/** An instant as the zone's wall-clock time, "YYYY-MM-DDTHH:MM" (for datetime-local inputs). */
export function instantToZonedLocal(instant: Date, timeZone: string): string {
  const local = new Date(instant.getTime() + zoneOffsetMs(instant, timeZone));
  return local.toISOString().slice(0, 16);
}

/** The range's [from, to) as ISO instants; custom bounds are read in the project's zone. */
export function resolveRange(range: RangeChoice, timeZone: string, now: Date): DateRange {
  if (range.id === "custom") {
    return {
      from: zonedLocalToInstant(range.from, timeZone).toISOString(),
      to: zonedLocalToInstant(range.to, timeZone).toISOString(),
    };
  }
  return presetById(range.id).range(timeZone, now);
}

export function bucketCount(range: DateRange, interval: Interval): number {
  const span = new Date(range.to).getTime() - new Date(range.from).getTime();
  const size = INTERVALS.find((i) => i.id === interval)?.ms ?? 86_400_000;
  return Math.ceil(span / size);
}

/** Seconds as the largest whole unit: 1209600 -> [14, "DAY"]. */
export const WINDOW_UNITS: { id: string; label: string; seconds: number }[] = [
  { id: "MINUTE", label: "minutes", seconds: 60 },
  { id: "HOUR", label: "hours", seconds: 3600 },
  { id: "DAY", label: "days", seconds: 86_400 },
];
