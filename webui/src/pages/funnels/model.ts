/** Funnel builder state (as kept in the URL) and the shapes of the funnel answers. */
import { isFilterList, type PropertyFilter } from "../insights/params";

export type FunnelMode = "ORDERED" | "STRICT";

export interface StepSpec {
  event: string;
  filters: PropertyFilter[];
}

export interface FunnelStep {
  event: string;
  persons: number;
  conversionFromStart: number;
  conversionFromPrevious: number;
  medianSecondsFromPrevious: number | null;
  averageSecondsFromPrevious: number | null;
}

export interface FunnelGroup {
  breakdownValue: string | null;
  isOther: boolean;
  steps: FunnelStep[];
}

export interface Funnel {
  steps: FunnelStep[];
  breakdownGroups: FunnelGroup[];
}

export interface Dropoff {
  personId: string | null;
  distinctIds: string[];
  cursor: string;
}

export interface DropoffPage {
  persons: Dropoff[];
  hasNextPage: boolean;
  endCursor: string | null;
}

export const MIN_STEPS = 2;
export const MAX_STEPS = 10;
export const DEFAULT_WINDOW = 14 * 86_400;
/** The server's longest conversion window (query/analytics/get_funnel.py MAX_WINDOW). */
export const MAX_WINDOW = 90 * 86_400;

export function isStepList(value: unknown): value is StepSpec[] {
  return (
    Array.isArray(value) &&
    value.length >= MIN_STEPS &&
    value.length <= MAX_STEPS &&
    value.every(
      (step) =>
        typeof step === "object" && step !== null && typeof (step as StepSpec).event === "string" &&
        isFilterList((step as StepSpec).filters ?? []),
    )
  );
}

export function groupName(group: FunnelGroup): string {
  if (group.isOther) return "Other";
  return group.breakdownValue ?? "(none)";
}
