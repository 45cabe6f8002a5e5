/**
 * The project's persons, newest first: search by distinct id or trait value, page through them, and
 * open one to follow their journey.
 */
import { useEffect, useMemo, useState } from "react";
import { Link, useLocation, useNavigate, useSearchParams } from "react-router";
import { gql, useQuery } from "urql";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { useProject } from "../lib/project";
import { formatDateTime, formatRelative } from "../lib/time";
import { useDebounced } from "../lib/timers";
import { personName, traitSummary, type PersonSummary } from "./persons/personDisplay";
import { downloadExport } from "../lib/exports";

const PAGE_SIZE = 25;

const PERSONS = gql`
  query Persons($projectId: ID!, $search: String, $first: Int!, $after: String) {
    persons(projectId: $projectId, search: $search, first: $first, after: $after) {
      edges { cursor node { id distinctIds traits isIdentified firstSeen lastSeen } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

interface PersonsData {
  persons: {
    edges: { cursor: string; node: PersonSummary }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

export default function PersonsPage() {
  const project = useProject();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [text, setText] = useState(params.get("q") ?? "");
  const search = useDebounced(text.trim(), 300);
  // Cursors of the pages before the current one ("" is the first page).
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors.length ? cursors[cursors.length - 1]! : null;
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<string | null>(null);

  useEffect(() => {
    setCursors([]);
    if ((params.get("q") ?? "") !== search) {
      setParams((current) => {
        const next = new URLSearchParams(current);
        if (search) next.set("q", search);
        else next.delete("q");
        return next;
      }, { replace: true });
    }
    // Only a new search (or project) starts again at the first page and rewrites the URL.
  }, [search, project.id]);

  const variables = useMemo(
    () => ({ projectId: project.id, search: search || null, first: PAGE_SIZE, after }),
    [project.id, search, after],
  );
  // Set by the person page after an erasure: say what was deleted, and list persons afresh.
  const notice = (useLocation().state as { notice?: string } | null)?.notice;
  const [result, reexecute] = useQuery<PersonsData>({
    query: PERSONS, variables, requestPolicy: notice ? "network-only" : "cache-first",
  });
  const edges = result.data?.persons.edges ?? [];
  const pageInfo = result.data?.persons.pageInfo;
  const now = new Date();
  const reload = () => reexecute({ requestPolicy: "network-only" });

  return (
    <div className="page">
      <PageHeader
        title="Persons"
        description={<>Everyone {project.name} has seen, newest first · times in {project.timezone}</>}
        actions={
          <button type="button" className="button" onClick={reload} title="Load the list again">Refresh</button>
        }
      />
      {notice ? <div className="alert alert-success" role="status">{notice}</div> : null}
      <div className="card filters persons-search">
        <label className="field grow">
          <span className="field-label">Search</span>
          <input className="input" type="search" aria-label="Search persons" value={text} autoComplete="off"
            placeholder="Email, name, user id, anonymous id, any trait value…" onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="button" className="button button-ghost" disabled={edges.length === 0 || downloading}
          title="Every person matching the search, as CSV"
          onClick={() => {
            setDownloading(true);
            setDownloadError(null);
            downloadExport("persons", project.id, search ? { search } : {})
              .catch((error: Error) => setDownloadError(error.message))
              .finally(() => setDownloading(false));
          }}>
          Download CSV
        </button>
      </div>
      {downloadError ? <div className="alert alert-error">The export failed: {downloadError}</div> : null}

      {result.fetching && !result.data ? <LoadingState /> : null}
      {result.error ? <ErrorState error={result.error} onRetry={reload} /> : null}
      {result.data && edges.length === 0 ? (
        search ? (
          <EmptyState title="Nobody matches">No distinct id or trait value contains “{search}”.</EmptyState>
        ) : (
          <EmptyState title="No persons yet">Persons appear as events arrive: every user or anonymous id is someone.</EmptyState>
        )
      ) : null}
      {edges.length > 0 ? (
        <div className="card table-card">
          <table className="table persons-table" aria-label="Persons" data-testid="persons-table">
            <thead>
              <tr><th>Person</th><th>Distinct ids</th><th>Traits</th><th>First seen</th><th>Last seen</th></tr>
            </thead>
            <tbody>
              {edges.map(({ node }) => (
                <tr key={node.id} data-person-id={node.id} className="persons-row"
                  onClick={(event) => {
                    if ((event.target as HTMLElement).closest("a")) return;
                    navigate(`/persons/${node.id}`);
                  }}>
                  <td>
                    <Link to={`/persons/${node.id}`} className="person-link">{personName(node)}</Link>
                    {node.isIdentified ? null : <span className="badge badge-off person-anon">anonymous</span>}
                  </td>
                  <td>
                    <div className="person-ids">
                      {node.distinctIds.slice(0, 3).map((id) => <code key={id} className="person-id-chip" title={id}>{id}</code>)}
                      {node.distinctIds.length > 3 ? <span className="muted">+{node.distinctIds.length - 3}</span> : null}
                    </div>
                  </td>
                  <td className="muted truncate persons-traits" title={JSON.stringify(node.traits)}>
                    {traitSummary(node.traits) || <span className="muted">–</span>}
                  </td>
                  <td className="nowrap" title={formatDateTime(node.firstSeen, project.timezone)}>
                    {formatDateTime(node.firstSeen, project.timezone)}
                  </td>
                  <td className="nowrap" title={formatDateTime(node.lastSeen, project.timezone)}>
                    {formatRelative(node.lastSeen, now)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {edges.length > 0 || cursors.length > 0 ? (
        <nav className="persons-pager" aria-label="Pages">
          <button type="button" className="button" disabled={cursors.length === 0 || result.fetching}
            onClick={() => setCursors(cursors.slice(0, -1))}>← Newer</button>
          <span className="muted">Page {cursors.length + 1}</span>
          <button type="button" className="button" disabled={!pageInfo?.hasNextPage || result.fetching}
            onClick={() => pageInfo?.endCursor && setCursors([...cursors, pageInfo.endCursor])}>Older →</button>
        </nav>
      ) : null}
    </div>
  );
}
