/** Trend series: what the builder asks for, and how the answer's lines are named and summed up. */
import type { Interval } from "../../lib/time";

export type Math = "TOTAL" | "UNIQUE_PERSONS" | "SUM" | "AVG" | "MIN" | "MAX" | "P50" | "P90";
export type ChartType = "line" | "bar" | "number" | "table";

export const MATHS: { id: Math; label: string; property: boolean }[] = [
  { id: "TOTAL", label: "Total events", property: false },
  { id: "UNIQUE_PERSONS", label: "Unique persons", property: false },
  { id: "SUM", label: "Sum of", property: true },
  { id: "AVG", label: "Average of", property: true },
  { id: "MIN", label: "Minimum of", property: true },
  { id: "MAX", label: "Maximum of", property: true },
  { id: "P50", label: "Median of", property: true },
  { id: "P90", label: "90th percentile of", property: true },
];

export const CHART_TYPES: { id: ChartType; label: string }[] = [
  { id: "line", label: "Line" },
  { id: "bar", label: "Bar" },
  { id: "number", label: "Number" },
  { id: "table", label: "Table" },
];

export interface SeriesSpec {
  /** null: all events. */
  event: string | null;
  math: Math;
  /** The numeric property of SUM..P90; null otherwise. */
  property: string | null;
}

export interface TrendSeries {
  label: string;
  points: { bucket: string; value: number }[];
  breakdownValue: string | null;
  isOther: boolean;
  compare: boolean;
}

/** One line of the answer, tied to the builder's series it belongs to. */
export interface Line {
  key: string;
  /** Index of the builder's series. */
  series: number;
  name: string;
  breakdown: string;
  result: TrendSeries;
}

export function needsProperty(math: Math): boolean {
  return MATHS.find((m) => m.id === math)?.property ?? false;
}

/** Sums make sense for counts and sums; other maths are not additive over buckets. */
export function isAdditive(math: Math): boolean {
  return math === "TOTAL" || math === "SUM";
}

export function isSeries(value: unknown): value is SeriesSpec {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    (v["event"] === null || typeof v["event"] === "string") &&
    MATHS.some((m) => m.id === v["math"]) &&
    (v["property"] === null || v["property"] === undefined || typeof v["property"] === "string")
  );
}

export function isSeriesList(value: unknown): value is SeriesSpec[] {
  return Array.isArray(value) && value.length >= 1 && value.length <= 20 && value.every(isSeries);
}

export const LETTERS = "ABCDEFGHIJKLMNOPQRST";

export function seriesTitle(spec: SeriesSpec): string {
  const event = spec.event ?? "All events";
  if (spec.math === "TOTAL") return event;
  if (spec.math === "UNIQUE_PERSONS") return `${event} · unique persons`;
  const math = MATHS.find((m) => m.id === spec.math)?.label.toLowerCase() ?? spec.math;
  return `${event} · ${math} ${spec.property ?? "?"}`;
}

export function breakdownName(result: TrendSeries): string {
  if (result.isOther) return "Other";
  return result.breakdownValue ?? "(none)";
}

/**
 * The answer lists each series' lines together: its breakdown values, then the previous period's.
 * A new series starts where the label changes, where the current period follows the previous one,
 * or where a breakdown value repeats.
 */
export function toLines(results: TrendSeries[], specs: SeriesSpec[], breakdown: boolean): Line[] {
  const lines: Line[] = [];
  let index = 0;
  let seen = new Set<string>();
  let previous: TrendSeries | null = null;
  for (const result of results) {
    const value = `${result.compare}|${result.isOther}|${result.breakdownValue ?? "\u0000"}`;
    if (previous !== null) {
      const newSeries =
        result.label !== previous.label || (previous.compare && !result.compare) || seen.has(value) ||
        (!breakdown && !result.compare);
      if (newSeries) {
        index += 1;
        seen = new Set();
      }
    }
    seen.add(value);
    previous = result;
    const spec = specs[Math.min(index, specs.length - 1)];
    const title = spec ? seriesTitle(spec) : result.label;
    const letter = LETTERS[index] ?? "";
    const parts = [specs.length > 1 ? `${letter}. ${title}` : title];
    if (breakdown) parts.push(breakdownName(result));
    lines.push({
      key: `${index}|${value}`,
      series: index,
      name: parts.join(" · ") + (result.compare ? " (previous)" : ""),
      breakdown: breakdown ? breakdownName(result) : "",
      result,
    });
  }
  return lines;
}

/**
 * The headline number of a line: the range's total for additive maths; otherwise the bucket that
 * holds `now` (or the range's last bucket, for a range in the past).
 */
export function headline(line: Line, math: Math, now: number = Date.now()): number {
  const points = line.result.points;
  if (isAdditive(math)) return points.reduce((sum, p) => sum + p.value, 0);
  const current = points.filter((p) => new Date(p.bucket).getTime() <= now).at(-1);
  return current?.value ?? 0;
}

export function headlineCaption(math: Math, interval: Interval, rangeEnd: string, now: number = Date.now()): string {
  if (isAdditive(math)) return "in range";
  return `${new Date(rangeEnd).getTime() > now ? "this" : "last"} ${interval.toLowerCase()}`;
}
