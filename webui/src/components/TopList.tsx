/** A ranked list of values with proportional bars (top pages, countries, ...), exportable as CSV (topValues). */
import type { CombinedError } from "urql";
import { slug } from "../lib/csv";
import type { CsvExport } from "../lib/exports";
import { formatCount } from "../lib/format";
import { CsvButton } from "./CsvButton";
import { EmptyState, ErrorState, LoadingState } from "./States";

export interface TopListRow {
  value: string;
  events: number;
  persons: number;
}

export function TopList({
  title,
  rows,
  valueLabel,
  csv,
  loading,
  error,
  onRetry,
}: {
  title: string;
  rows: TopListRow[];
  valueLabel: string;
  /** The server export of the list's query (topValues), with its variables. */
  csv: CsvExport | null;
  loading?: boolean;
  error?: CombinedError;
  onRetry?: () => void;
}) {
  const max = Math.max(1, ...rows.map((row) => row.persons));
  const name = slug(title);
  return (
    <section className="card toplist" data-toplist={name} aria-label={title}>
      <header className="card-header">
        <h2 className="card-title">{title}</h2>
        <div className="card-actions">
          <CsvButton csv={csv} disabled={rows.length === 0} />
        </div>
      </header>
      {loading && rows.length === 0 ? <LoadingState compact /> : null}
      {error ? <ErrorState error={error} onRetry={onRetry} compact /> : null}
      {!loading && !error && rows.length === 0 ? <EmptyState title="Nothing yet" compact /> : null}
      {rows.length > 0 ? (
        <table className="toplist-table">
          <thead>
            <tr>
              <th>{valueLabel}</th>
              <th className="numeric">Persons</th>
              <th className="numeric">Events</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.value}>
                <td className="toplist-value">
                  <span className="toplist-bar" style={{ width: `${(row.persons / max) * 100}%` }} />
                  <span className="toplist-label" title={row.value}>{row.value === "" ? "(empty)" : row.value}</span>
                </td>
                <td className="numeric">{formatCount(row.persons)}</td>
                <td className="numeric">{formatCount(row.events)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
