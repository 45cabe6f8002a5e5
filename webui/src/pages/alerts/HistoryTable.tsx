/** The state changes of alert rules (alertHistory), newest first, with loading, error and empty states. */
import type { UseQueryState } from "urql";
import { EmptyState, ErrorState, LoadingState } from "../../components/States";
import { formatDateTime } from "../../lib/time";
import { formatNumber, stateTone, type AlertStateChange } from "./api";

function range(change: AlertStateChange): string {
  if (change.lower === null && change.upper === null) return "–";
  return `${change.lower === null ? "−∞" : formatNumber(change.lower)} to ${change.upper === null ? "+∞" : formatNumber(change.upper)}`;
}

export function HistoryTable({
  result,
  timezone,
  showRule,
  onRetry,
}: {
  result: UseQueryState<{ alertHistory: AlertStateChange[] }>;
  timezone: string;
  showRule: boolean;
  onRetry: () => void;
}) {
  const changes = result.data?.alertHistory ?? [];
  if (result.fetching && !result.data) return <LoadingState compact />;
  if (result.error) return <ErrorState error={result.error} compact onRetry={onRetry} />;
  if (changes.length === 0) {
    return <EmptyState title="No state changes yet" compact>Each time a rule starts firing or resolves, it is recorded here.</EmptyState>;
  }
  return (
    <table className="table" aria-label="State changes">
      <thead>
        <tr>
          <th>When</th>
          {showRule ? <th>Rule</th> : null}
          <th>Change</th>
          <th className="numeric">Value</th>
          <th>Expected range</th>
          <th>Reason</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((change, index) => (
          <tr key={`${change.ruleId}-${change.at}-${index}`} data-testid="history-row">
            <td className="nowrap">{formatDateTime(change.at, timezone)}</td>
            {showRule ? <td>{change.ruleName}</td> : null}
            <td className="nowrap">
              <span className={`badge badge-${stateTone(change.fromState)}`}>{change.fromState}</span>
              <span className="muted"> → </span>
              <span className={`badge badge-${stateTone(change.toState)}`}>{change.toState}</span>
            </td>
            <td className="numeric">{formatNumber(change.value)}</td>
            <td className="nowrap">{range(change)}</td>
            <td className="alerts-error-cell">{change.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
