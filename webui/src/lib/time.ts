/**
 * Times as the project sees them: every formatter takes the project's IANA timezone, as the server
 * buckets analytics in it (DESIGN.md section 5). Date ranges are half-open [from, to).
 */

export type Interval = "MINUTE" | "HOUR" | "DAY" | "WEEK" | "MONTH";

export interface DateRange {
  from: string;
  to: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = timeZone + JSON.stringify(options);
  let cached = formatters.get(key);
  if (!cached) {
    cached = new Intl.DateTimeFormat(undefined, { ...options, timeZone });
    formatters.set(key, cached);
  }
  return cached;
}

function toDate(value: string | Date): Date {
  return typeof value === "string" ? new Date(value) : value;
}

/** "4 Dec 2026, 14:05:09" in the zone. */
export function formatDateTime(value: string | Date, timeZone: string): string {
  return formatter(timeZone, { dateStyle: "medium", timeStyle: "medium", hourCycle: "h23" }).format(toDate(value));
}

/** "14:05:09" in the zone. */
export function formatTime(value: string | Date, timeZone: string): string {
  return formatter(timeZone, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(
    toDate(value),
  );
}

/** "4 Dec 2026" in the zone. */
export function formatDate(value: string | Date, timeZone: string): string {
  return formatter(timeZone, { dateStyle: "medium" }).format(toDate(value));
}

/** A chart bucket's label, as precise as its interval. */
export function formatBucket(value: string | Date, interval: Interval, timeZone: string): string {
  const date = toDate(value);
  switch (interval) {
    case "MINUTE":
    case "HOUR":
      return formatter(timeZone, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(date);
    case "DAY":
    case "WEEK":
      return formatter(timeZone, { month: "short", day: "numeric" }).format(date);
    case "MONTH":
      return formatter(timeZone, { month: "short", year: "numeric" }).format(date);
  }
}

/** "3 min ago", "in 2 h", relative to now. */
export function formatRelative(value: string | Date, now: Date = new Date()): string {
  const seconds = Math.round((toDate(value).getTime() - now.getTime()) / 1000);
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
  const abs = Math.abs(seconds);
  if (abs < 60) return format.format(seconds, "second");
  if (abs < 3600) return format.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return format.format(Math.round(seconds / 3600), "hour");
  return format.format(Math.round(seconds / 86_400), "day");
}

/** The zone's offset from UTC at an instant, in milliseconds (positive east of Greenwich). */
export function zoneOffsetMs(instant: Date, timeZone: string): number {
  const parts = formatter(timeZone, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The instant a wall-clock time in the zone stands for; the wall-clock time comes as if UTC (`Date.UTC(...)`). */
export function wallClockToInstant(asUtc: number, timeZone: string): Date {
  // Two passes settle the offset when the time itself is near a DST change.
  let instant = asUtc - zoneOffsetMs(new Date(asUtc), timeZone);
  instant = asUtc - zoneOffsetMs(new Date(instant), timeZone);
  return new Date(instant);
}

/** The instant of local midnight in the zone, `daysFromToday` days from today there. */
export function zonedMidnight(timeZone: string, daysFromToday = 0, now: Date = new Date()): Date {
  const local = new Date(now.getTime() + zoneOffsetMs(now, timeZone));
  const midnightAsUtc = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + daysFromToday);
  return wallClockToInstant(midnightAsUtc, timeZone);
}

export interface RangePreset {
  id: string;
  label: string;
  /** The bucket size charts of this range use. */
  interval: Interval;
  range: (timeZone: string, now?: Date) => DateRange;
}

function hoursBack(hours: number, now: Date): DateRange {
  const end = new Date(now);
  end.setUTCMinutes(0, 0, 0);
  end.setUTCHours(end.getUTCHours() + 1);
  return { from: new Date(end.getTime() - hours * 3_600_000).toISOString(), to: end.toISOString() };
}

function daysBack(days: number, timeZone: string, now: Date): DateRange {
  return {
    from: zonedMidnight(timeZone, -(days - 1), now).toISOString(),
    to: zonedMidnight(timeZone, 1, now).toISOString(),
  };
}

export const RANGE_PRESETS: RangePreset[] = [
  {
    id: "1h",
    label: "Last hour",
    interval: "MINUTE",
    range: (_tz, now = new Date()) => {
      const end = new Date(now);
      end.setUTCSeconds(0, 0);
      end.setUTCMinutes(end.getUTCMinutes() + 1);
      return { from: new Date(end.getTime() - 60 * 60_000).toISOString(), to: end.toISOString() };
    },
  },
  { id: "24h", label: "Last 24 hours", interval: "HOUR", range: (_tz, now = new Date()) => hoursBack(24, now) },
  { id: "today", label: "Today", interval: "HOUR", range: (tz, now = new Date()) => daysBack(1, tz, now) },
  { id: "7d", label: "Last 7 days", interval: "DAY", range: (tz, now = new Date()) => daysBack(7, tz, now) },
  { id: "30d", label: "Last 30 days", interval: "DAY", range: (tz, now = new Date()) => daysBack(30, tz, now) },
  { id: "90d", label: "Last 90 days", interval: "WEEK", range: (tz, now = new Date()) => daysBack(90, tz, now) },
];

export function presetById(id: string): RangePreset {
  return RANGE_PRESETS.find((p) => p.id === id) ?? RANGE_PRESETS[1]!;
}
