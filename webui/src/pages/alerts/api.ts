/**
 * The alerting API as the alert screens use it: GraphQL documents, result shapes, the editor's
 * draft of a rule and its AlertRuleInput, and short descriptions of series and detectors.
 */
import { gql } from "urql";
import type { PropertyFilter, PropertyType } from "../insights/params";
import { MATHS, needsProperty, type Math } from "../insights/series";

export type AlertState = "OK" | "FIRING" | "RESOLVED";
export type AlertInterval = "MINUTE" | "HOUR" | "DAY";
export type DetectorKind = "THRESHOLD" | "RELATIVE" | "ZSCORE" | "EWMA" | "SEASONAL";
export type Direction = "UP" | "DOWN" | "BOTH";
export type ChannelKind = "EMAIL" | "SLACK" | "WEBHOOK";

export interface Detector {
  kind: DetectorKind;
  direction: Direction;
  threshold: number | null;
  change: number;
  window: number;
  sensitivity: number | null;
  lookback: number | null;
  alpha: number;
  weeks: number;
  minVolume: number;
}

export interface AlertRule {
  id: string;
  projectId: string;
  name: string;
  enabled: boolean;
  series: {
    label: string;
    event: string | null;
    math: Math;
    property: string | null;
    filters: PropertyFilter[];
    breakdown: { key: string; type: PropertyType; value: string | null } | null;
  };
  detector: Detector;
  interval: AlertInterval;
  evaluateEverySeconds: number;
  cooldownSeconds: number;
  channelIds: string[];
  state: AlertState;
  lastEvaluatedAt: string | null;
  lastValue: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AlertEvent {
  id: string;
  ruleId: string | null;
  kind: string;
  ruleName: string;
  message: string;
  bucket: string | null;
  value: number | null;
  expected: number | null;
  lower: number | null;
  upper: number | null;
  createdAt: string;
  read: boolean;
}

export interface AlertStateChange {
  ruleId: string;
  ruleName: string;
  fromState: AlertState;
  toState: AlertState;
  at: string;
  bucket: string | null;
  value: number | null;
  expected: number | null;
  lower: number | null;
  upper: number | null;
  reason: string;
}

export interface AlertDelivery {
  id: string;
  eventKind: string;
  ruleName: string;
  channelName: string | null;
  channelKind: string;
  status: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  nextAttemptAt: string;
}

export interface AlertChannel {
  id: string;
  projectId: string | null;
  kind: ChannelKind;
  name: string;
  emails: string[];
  url: string | null;
  createdAt: string;
}

export interface BacktestPoint {
  bucket: string;
  value: number;
  firing: boolean;
  expected: number | null;
  lower: number | null;
  upper: number | null;
  reason: string;
}

export const RULE_FIELDS = `id projectId name enabled interval evaluateEverySeconds cooldownSeconds channelIds state
  lastEvaluatedAt lastValue lastError createdAt updatedAt
  series { label event math property filters { key operator value type } breakdown { key type value } }
  detector { kind direction threshold change window sensitivity lookback alpha weeks minVolume }`;
export const EVENT_FIELDS = "id ruleId kind ruleName message bucket value expected lower upper createdAt read";
export const CHANNEL_FIELDS = "id projectId kind name emails url createdAt";

export const ALERT_RULES = gql`query AlertRules($projectId: ID!) { alertRules(projectId: $projectId) { ${RULE_FIELDS} } }`;
export const ALERT_RULE = gql`query AlertRule($id: ID!) { alertRule(id: $id) { ${RULE_FIELDS} } }`;
export const ALERT_EVENTS = gql`
  query AlertEvents($projectId: ID!) { alertEvents(projectId: $projectId, limit: 50) { ${EVENT_FIELDS} } }
`;
export const ALERT_HISTORY = gql`
  query AlertHistory($projectId: ID!, $ruleId: ID) {
    alertHistory(projectId: $projectId, ruleId: $ruleId, limit: 50) {
      ruleId ruleName fromState toState at bucket value expected lower upper reason
    }
  }
`;
export const FAILED_DELIVERIES = gql`
  query FailedAlertDeliveries($projectId: ID!) {
    alertDeliveries(projectId: $projectId, failedOnly: true, limit: 20) {
      id eventKind ruleName channelName channelKind status attempts lastError createdAt nextAttemptAt
    }
  }
`;
export const ALERT_CHANNELS = gql`
  query AlertChannels($projectId: ID) { alertChannels(projectId: $projectId) { ${CHANNEL_FIELDS} } }
`;
export const UNREAD_COUNT = gql`query UnreadAlertCount($projectId: ID!) { unreadAlertCount(projectId: $projectId) }`;
export const ALERT_FIRED = gql`
  subscription AlertFired($projectId: ID!) { alertFired(projectId: $projectId) { ${EVENT_FIELDS} } }
`;
export const MARK_READ = gql`
  mutation MarkAlertEventsRead($projectId: ID!, $ids: [ID!]) { markAlertEventsRead(projectId: $projectId, ids: $ids) }
`;
export const BACKTEST = gql`
  query BacktestAlert($projectId: ID!, $rule: AlertRuleInput!, $dateRange: DateRangeInput!) {
    backtestAlert(projectId: $projectId, rule: $rule, dateRange: $dateRange) {
      firedAt points { bucket value firing expected lower upper reason }
    }
  }
`;
export const CREATE_RULE = gql`
  mutation CreateAlertRule($projectId: ID!, $rule: AlertRuleInput!) {
    createAlertRule(projectId: $projectId, rule: $rule) { ${RULE_FIELDS} }
  }
`;
export const UPDATE_RULE = gql`
  mutation UpdateAlertRule($id: ID!, $rule: AlertRuleInput!) { updateAlertRule(id: $id, rule: $rule) { ${RULE_FIELDS} } }
`;
export const DELETE_RULE = gql`mutation DeleteAlertRule($id: ID!) { deleteAlertRule(id: $id) }`;

/** The in-app feed changed (a push arrived, notices were marked read): badge and lists reload. */
const CHANGED = "trackmint:alerts-changed";

export function notifyAlertsChanged(): void {
  window.dispatchEvent(new Event(CHANGED));
}

export function onAlertsChanged(listener: () => void): () => void {
  window.addEventListener(CHANGED, listener);
  return () => window.removeEventListener(CHANGED, listener);
}

export const DETECTORS: { id: DetectorKind; label: string; help: string }[] = [
  { id: "THRESHOLD", label: "Threshold", help: "Fires when the value is above or below a number." },
  { id: "RELATIVE", label: "Relative change", help: "Compares the last buckets with the ones before." },
  { id: "ZSCORE", label: "Z-score", help: "Standard deviations from the mean of the recent buckets." },
  { id: "EWMA", label: "EWMA", help: "Leaves the band of an exponentially weighted moving average." },
  { id: "SEASONAL", label: "Seasonal", help: "Compares with the same hour of the week over the last weeks." },
];

export const ALERT_INTERVALS: { id: AlertInterval; label: string; seconds: number }[] = [
  { id: "MINUTE", label: "Minute", seconds: 60 },
  { id: "HOUR", label: "Hour", seconds: 3600 },
  { id: "DAY", label: "Day", seconds: 86_400 },
];

/** The server's defaults (alerting/detectors.py) shown in the editor. */
export const DEFAULT_SENSITIVITY: Record<DetectorKind, number | null> = {
  THRESHOLD: null, RELATIVE: null, ZSCORE: 3, EWMA: 3, SEASONAL: 4,
};
export const DEFAULT_LOOKBACK: Record<DetectorKind, number | null> = {
  THRESHOLD: null, RELATIVE: null, ZSCORE: 24, EWMA: 48, SEASONAL: null,
};

/** What the editor holds: every setting, numbers as typed. */
export interface RuleDraft {
  name: string;
  event: string | null;
  math: Math;
  property: string | null;
  filters: PropertyFilter[];
  breakdownKey: string;
  breakdownType: PropertyType;
  breakdownValue: string;
  interval: AlertInterval;
  kind: DetectorKind;
  direction: Direction;
  threshold: string;
  change: string;
  window: string;
  sensitivity: string;
  lookback: string;
  alpha: string;
  weeks: string;
  minVolume: string;
  evaluateEverySeconds: string;
  cooldownMinutes: string;
  channelIds: string[];
  enabled: boolean;
}

export function newDraft(event: string | null): RuleDraft {
  return {
    name: "", event, math: "TOTAL", property: null, filters: [], breakdownKey: "", breakdownType: "EVENT",
    breakdownValue: "", interval: "HOUR", kind: "THRESHOLD", direction: "UP", threshold: "", change: "0.5",
    window: "1", sensitivity: "", lookback: "", alpha: "0.1", weeks: "4", minVolume: "10",
    evaluateEverySeconds: "60", cooldownMinutes: "10", channelIds: [], enabled: true,
  };
}

function text(value: number | null): string {
  return value === null ? "" : String(value);
}

export function draftFromRule(rule: AlertRule): RuleDraft {
  const d = rule.detector;
  return {
    name: rule.name, event: rule.series.event, math: rule.series.math, property: rule.series.property,
    filters: rule.series.filters.map((f) => ({ key: f.key, operator: f.operator, value: f.value, type: f.type })),
    breakdownKey: rule.series.breakdown?.key ?? "", breakdownType: rule.series.breakdown?.type ?? "EVENT",
    breakdownValue: rule.series.breakdown?.value ?? "", interval: rule.interval, kind: d.kind, direction: d.direction,
    threshold: text(d.threshold), change: String(d.change), window: String(d.window),
    sensitivity: d.sensitivity === DEFAULT_SENSITIVITY[d.kind] ? "" : text(d.sensitivity),
    lookback: d.lookback === DEFAULT_LOOKBACK[d.kind] ? "" : text(d.lookback),
    alpha: String(d.alpha), weeks: String(d.weeks), minVolume: String(d.minVolume),
    evaluateEverySeconds: String(rule.evaluateEverySeconds), cooldownMinutes: String(rule.cooldownSeconds / 60),
    channelIds: rule.channelIds, enabled: rule.enabled,
  };
}

function num(value: string): number | null {
  if (value.trim() === "") return null;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : null;
}

/** The AlertRuleInput of a draft, or the first thing that keeps it from being one. */
export function ruleInput(draft: RuleDraft): { input: Record<string, unknown> } | { problem: string } {
  if (needsProperty(draft.math) && !draft.property) return { problem: "Pick the numeric property the math applies to." };
  const detector: Record<string, unknown> = { kind: draft.kind, direction: draft.direction };
  if (draft.kind === "THRESHOLD") {
    const threshold = num(draft.threshold);
    if (threshold === null) return { problem: "Type the threshold the value is compared with." };
    if (draft.direction === "BOTH") return { problem: "A threshold fires either above or below it: pick one." };
    detector["threshold"] = threshold;
  } else {
    const minVolume = num(draft.minVolume);
    if (minVolume === null || minVolume < 0) return { problem: "Minimum volume must be a number, 0 or more." };
    detector["minVolume"] = minVolume;
  }
  if (draft.kind === "RELATIVE") {
    const change = num(draft.change);
    const window = num(draft.window);
    if (change === null || change <= 0) return { problem: "The change must be a positive fraction (0.5 = 50 %)." };
    if (window === null || !Number.isInteger(window) || window < 1) return { problem: "The window is a whole number of buckets." };
    detector["change"] = change;
    detector["window"] = window;
  }
  if (draft.kind === "ZSCORE" || draft.kind === "EWMA" || draft.kind === "SEASONAL") {
    const sensitivity = num(draft.sensitivity);
    if (draft.sensitivity.trim() !== "" && (sensitivity === null || sensitivity <= 0)) {
      return { problem: "Sensitivity must be a positive number of deviations." };
    }
    detector["sensitivity"] = sensitivity;
  }
  if (draft.kind === "ZSCORE" || draft.kind === "EWMA") {
    const lookback = num(draft.lookback);
    if (draft.lookback.trim() !== "" && (lookback === null || !Number.isInteger(lookback) || lookback < 2)) {
      return { problem: "Lookback is a whole number of buckets (2 or more)." };
    }
    detector["lookback"] = lookback;
  }
  if (draft.kind === "EWMA") {
    const alpha = num(draft.alpha);
    if (alpha === null || alpha <= 0 || alpha > 1) return { problem: "Alpha is between 0 and 1." };
    detector["alpha"] = alpha;
  }
  if (draft.kind === "SEASONAL") {
    const weeks = num(draft.weeks);
    if (weeks === null || !Number.isInteger(weeks) || weeks < 1) return { problem: "Weeks of history is a whole number." };
    detector["weeks"] = weeks;
  }
  const every = num(draft.evaluateEverySeconds);
  if (every === null || every < 10 || every > 86_400) return { problem: "Evaluate every 10 to 86400 seconds." };
  const cooldown = num(draft.cooldownMinutes);
  if (cooldown === null || cooldown < 0 || cooldown > 10_080) return { problem: "Cooldown is 0 to 10080 minutes (a week)." };
  const breakdown = draft.breakdownKey.trim()
    ? { key: draft.breakdownKey.trim(), type: draft.breakdownType, value: draft.breakdownValue === "" ? null : draft.breakdownValue }
    : null;
  return {
    input: {
      name: draft.name.trim() || "Untitled alert",
      series: {
        event: draft.event, math: draft.math, property: needsProperty(draft.math) ? draft.property : null,
        filters: draft.filters.map((f) => ({ key: f.key, operator: f.operator, value: f.value, type: f.type })),
        breakdown,
      },
      detector,
      interval: draft.interval,
      evaluateEverySeconds: Math.round(every),
      cooldownSeconds: Math.round(cooldown * 60),
      channelIds: draft.channelIds,
      enabled: draft.enabled,
    },
  };
}

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function formatNumber(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : numberFormat.format(value);
}

export function seriesSummary(series: AlertRule["series"]): string {
  const event = series.event ?? "All events";
  const math = series.math === "TOTAL"
    ? "total"
    : series.math === "UNIQUE_PERSONS"
      ? "unique persons"
      : `${MATHS.find((m) => m.id === series.math)?.label.toLowerCase() ?? series.math} ${series.property ?? "?"}`;
  const parts = [`${event} · ${math}`];
  if (series.filters.length) parts.push(`${series.filters.length} filter${series.filters.length > 1 ? "s" : ""}`);
  if (series.breakdown) parts.push(`${series.breakdown.key} = ${series.breakdown.value ?? "(none)"}`);
  return parts.join(" · ");
}

const ARROWS: Record<Direction, string> = { UP: "above", DOWN: "below", BOTH: "either way" };

export function detectorSummary(detector: Detector): string {
  switch (detector.kind) {
    case "THRESHOLD":
      return `${ARROWS[detector.direction]} ${formatNumber(detector.threshold)}`;
    case "RELATIVE":
      return `changes ${Math.round(detector.change * 100)} % (${ARROWS[detector.direction]}) over ${detector.window} bucket${detector.window > 1 ? "s" : ""}`;
    case "ZSCORE":
      return `z-score ${formatNumber(detector.sensitivity)} σ over ${detector.lookback ?? "?"} buckets`;
    case "EWMA":
      return `EWMA ±${formatNumber(detector.sensitivity)} σ, α ${formatNumber(detector.alpha)}`;
    case "SEASONAL":
      return `seasonal ±${formatNumber(detector.sensitivity)} over ${detector.weeks} weeks`;
  }
}

/** A server time for "… ago": never in the future (the browser's clock may lag the server's). */
export function pastOrNow(value: string): Date {
  return new Date(Math.min(new Date(value).getTime(), Date.now()));
}

export function stateTone(state: AlertState): string {
  return state === "FIRING" ? "danger" : state === "RESOLVED" ? "accent" : "off";
}
