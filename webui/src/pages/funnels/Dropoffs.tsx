/**
 * The persons who reached step k-1 of a funnel but not step k (funnelDropoffs), a page at a time,
 * each linking to their journey. Refetched when the funnel's numbers move.
 */
import { useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { gql, useQuery } from "urql";
import { EmptyState, ErrorState, LoadingState } from "../../components/States";
import { formatCount } from "../../lib/format";
import type { DropoffPage } from "./model";

const PAGE_SIZE = 25;

const DROPOFFS = gql`
  query FunnelDropoffs($projectId: ID!, $steps: [FunnelStepInput!]!, $dateRange: DateRangeInput!, $step: Int!,
    $windowSeconds: Int!, $mode: FunnelMode!, $filters: [PropertyFilterInput!], $first: Int!, $after: String) {
    funnelDropoffs(projectId: $projectId, steps: $steps, dateRange: $dateRange, step: $step, windowSeconds: $windowSeconds,
      mode: $mode, filters: $filters, first: $first, after: $after) {
      persons { personId distinctIds cursor }
      hasNextPage
      endCursor
    }
  }
`;

export interface DropoffArgs {
  projectId: string;
  steps: { event: string; filters: unknown[] }[];
  dateRange: { from: string; to: string };
  windowSeconds: number;
  mode: string;
  filters: unknown[] | null;
}

export function Dropoffs({
  args,
  step,
  fromEvent,
  toEvent,
  expected,
  version,
  onClose,
}: {
  args: DropoffArgs;
  step: number;
  fromEvent: string;
  toEvent: string;
  /** Drop-offs the funnel counts (for the heading). */
  expected: number | undefined;
  /** Changes when the funnel's answer changes: the list is read again. */
  version: string;
  onClose: () => void;
}) {
  // Cursors of the pages before the current one; the current page starts after the last.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  useEffect(() => setCursors([null]), [args, step]);
  const after = cursors[cursors.length - 1] ?? null;
  const variables = useMemo(() => ({ ...args, step, first: PAGE_SIZE, after }), [args, step, after]);
  const [result, reexecute] = useQuery<{ funnelDropoffs: DropoffPage }>({ query: DROPOFFS, variables });
  useEffect(() => {
    reexecute({ requestPolicy: "network-only" });
  }, [version, reexecute]);
  const page = result.data?.funnelDropoffs;
  const offset = (cursors.length - 1) * PAGE_SIZE;

  return (
    <section className="card fun-dropoffs" aria-label="Dropped-off persons" data-testid="dropoffs" data-step={step}>
      <header className="card-header">
        <h2 className="card-title">
          Dropped off before step {step}
          <span className="muted fun-dropoffs-sub">
            did <strong>{fromEvent}</strong> but not <strong>{toEvent}</strong>
            {expected !== undefined ? ` · ${formatCount(expected)} persons` : ""}
          </span>
        </h2>
        <button type="button" className="button button-ghost button-small" onClick={onClose} aria-label="Close drop-offs">
          ×
        </button>
      </header>
      <div className="fun-dropoffs-body">
        {result.fetching && !page ? <LoadingState compact /> : null}
        {result.error && !page ? (
          <ErrorState error={result.error} compact onRetry={() => reexecute({ requestPolicy: "network-only" })} />
        ) : null}
        {page && page.persons.length === 0 ? <EmptyState title="Nobody dropped off here" compact /> : null}
        {page && page.persons.length > 0 ? (
          <table className="table">
            <thead>
              <tr>
                <th className="numeric fun-index">#</th>
                <th>Person</th>
                <th>Distinct ids</th>
              </tr>
            </thead>
            <tbody>
              {page.persons.map((person, index) => (
                <tr key={person.cursor} data-testid="dropoff-person">
                  <td className="numeric muted fun-index">{offset + index + 1}</td>
                  <td>
                    {person.personId ? (
                      <Link to={`/persons/${person.personId}`} className="mono">{person.personId}</Link>
                    ) : <span className="muted">no person</span>}
                  </td>
                  <td className="mono" data-testid="dropoff-distinct-ids">{person.distinctIds.join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </div>
      {page && (cursors.length > 1 || page.hasNextPage) ? (
        <footer className="fun-pager">
          <span className="muted">
            {offset + 1}–{offset + page.persons.length}
          </span>
          <button type="button" className="button button-small" disabled={cursors.length <= 1}
            onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </button>
          <button type="button" className="button button-small" disabled={!page.hasNextPage || !page.endCursor}
            onClick={() => setCursors([...cursors, page.endCursor])}>
            Next
          </button>
        </footer>
      ) : null}
    </section>
  );
}
