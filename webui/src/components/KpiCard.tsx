/** One headline number with its label, and an optional note below it. */
import type { ReactNode } from "react";

export function KpiCard({
  label,
  value,
  note,
  live = false,
  loading = false,
  testId,
}: {
  label: string;
  value: ReactNode;
  note?: ReactNode;
  live?: boolean;
  loading?: boolean;
  testId?: string;
}) {
  return (
    <div className="kpi card" data-testid={testId} data-loading={loading || undefined}>
      <div className="kpi-label">
        {live ? <span className="live-dot" aria-label="live" /> : null}
        {label}
      </div>
      <div className="kpi-value" data-testid={testId ? `${testId}-value` : undefined}>
        {loading ? <span className="skeleton" aria-label="loading" /> : value}
      </div>
      {note ? <div className="kpi-note">{note}</div> : null}
    </div>
  );
}
