import { stateTone, type AlertState } from "./api";

/** A rule's state: OK (grey), FIRING (red), RESOLVED (green). */
export function StateBadge({ state }: { state: AlertState }) {
  return <span className={`badge badge-${stateTone(state)}`} data-testid="rule-state">{state}</span>;
}
