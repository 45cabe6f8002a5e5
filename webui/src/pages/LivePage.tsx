/** The live event stream: every event as the processor stores it, filtered, with a pause button. */
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { gql, useClient, type CombinedError } from "urql";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState } from "../components/States";
import { useProject } from "../lib/project";
import { formatTime } from "../lib/time";
import { downloadExport } from "../lib/exports";

interface LiveEvent {
  messageId: string;
  event: string;
  distinctId: string | null;
  personId: string | null;
  timestamp: string;
  isBot: boolean;
  properties: Record<string, unknown>;
  committedAt: string;
}

interface LiveEventBatch {
  events: LiveEvent[];
  missed: number;
}

const LIVE_EVENTS = gql`
  subscription LiveEvents($projectId: ID!, $filter: LiveEventFilterInput) {
    liveEvents(projectId: $projectId, filter: $filter) {
      events { messageId event distinctId personId timestamp isBot properties committedAt }
      missed
    }
  }
`;

/** Rows kept on screen; older ones scroll away. */
const MAX_ROWS = 200;

interface Filters {
  events: string;
  propertyKey: string;
  propertyValue: string;
  includeBots: boolean;
}

const NO_FILTERS: Filters = { events: "", propertyKey: "", propertyValue: "", includeBots: false };

function toFilterInput(filters: Filters) {
  const events = filters.events.split(",").map((name) => name.trim()).filter(Boolean);
  const key = filters.propertyKey.trim();
  return {
    events: events.length ? events : null,
    properties: key ? [{ key, value: filters.propertyValue }] : null,
    includeBots: filters.includeBots,
  };
}

function propertySummary(properties: Record<string, unknown>): string {
  const url = properties["$current_url"] ?? properties["$pathname"];
  const entries = Object.entries(properties).filter(([key]) => key !== "$current_url");
  const text = entries.slice(0, 4).map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  return [typeof url === "string" ? url : null, ...text].filter(Boolean).join(" · ");
}

/** Ranges the CSV download offers, ending now. */
const EXPORT_RANGES: Record<string, number> = { "Last hour": 3600, "Last 24 hours": 86400, "Last 7 days": 7 * 86400,
  "Last 30 days": 30 * 86400 };

export default function LivePage() {
  const project = useProject();
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [paused, setPaused] = useState(false);
  const [rows, setRows] = useState<LiveEvent[]>([]);
  const [held, setHeld] = useState<LiveEvent[]>([]);
  const [missed, setMissed] = useState(0);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  const variables = useMemo(() => ({ projectId: project.id, filter: toFilterInput(filters) }), [project.id, filters]);
  const client = useClient();
  const [error, setError] = useState<CombinedError | null>(null);

  // Each push is a batch, folded into the rows exactly once; a new filter or project starts a new stream.
  useEffect(() => {
    setRows([]);
    setHeld([]);
    setMissed(0);
    setError(null);
    const subscription = client
      .subscription<{ liveEvents: LiveEventBatch }>(LIVE_EVENTS, variables)
      .subscribe((result) => {
        if (result.error) {
          setError(result.error);
          return;
        }
        const batch = result.data?.liveEvents;
        if (!batch) return;
        setError(null);
        const newest = [...batch.events].reverse();
        if (pausedRef.current) setHeld((current) => [...newest, ...current].slice(0, MAX_ROWS));
        else setRows((current) => [...newest, ...current].slice(0, MAX_ROWS));
        if (batch.missed) setMissed((count) => count + batch.missed);
      });
    return () => subscription.unsubscribe();
  }, [client, variables]);

  const resume = () => {
    setRows((current) => [...held, ...current].slice(0, MAX_ROWS));
    setHeld([]);
    setPaused(false);
  };
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
  };
  const connected = !error;
  const [exportRange, setExportRange] = useState("Last 24 hours");
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const download = () => {
    const to = new Date();
    const from = new Date(to.getTime() - EXPORT_RANGES[exportRange]! * 1000);
    const names = toFilterInput(filters).events;
    setDownloading(true);
    setDownloadError(null);
    // The export filters on one event name; with several (or none) it has every event of the range.
    downloadExport("events", project.id, {
      from: from.toISOString(), to: to.toISOString(), includeBots: String(filters.includeBots),
      ...(names && names.length === 1 ? { event: names[0]! } : {}),
    })
      .catch((failure: Error) => setDownloadError(failure.message))
      .finally(() => setDownloading(false));
  };

  return (
    <div className="page">
      <PageHeader
        title="Live events"
        description={<>Events of {project.name} as they are stored · times in {project.timezone}</>}
        actions={
          <>
            <span className={`badge ${paused ? "badge-warn" : connected ? "badge-live" : "badge-off"}`} data-testid="live-status">
              {paused ? `paused${held.length ? ` · ${held.length} new` : ""}` : connected ? "live" : "disconnected"}
            </span>
            {paused ? (
              <button type="button" className="button button-primary" onClick={resume}>Resume</button>
            ) : (
              <button type="button" className="button" onClick={() => setPaused(true)}>Pause</button>
            )}
            <select className="select" aria-label="Download range" value={exportRange}
              onChange={(e) => setExportRange(e.target.value)}>
              {Object.keys(EXPORT_RANGES).map((label) => <option key={label}>{label}</option>)}
            </select>
            <button type="button" className="button" onClick={download} disabled={downloading}
              title="Every stored event of the range (and event filter) as CSV, times in the project's timezone">
              Download CSV
            </button>
          </>
        }
      />
      <form className="card filters" onSubmit={apply} aria-label="Live filters">
        <label className="field grow">
          <span className="field-label">Event names</span>
          <input className="input" name="events" placeholder="All events (comma-separated names)" value={draft.events}
            onChange={(e) => setDraft({ ...draft, events: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">Property</span>
          <input className="input" name="propertyKey" placeholder="$browser, plan, …" value={draft.propertyKey}
            onChange={(e) => setDraft({ ...draft, propertyKey: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">equals</span>
          <input className="input" name="propertyValue" placeholder="value" value={draft.propertyValue}
            onChange={(e) => setDraft({ ...draft, propertyValue: e.target.value })} />
        </label>
        <label className="checkbox">
          <input type="checkbox" checked={draft.includeBots} onChange={(e) => setDraft({ ...draft, includeBots: e.target.checked })} />
          Include bots
        </label>
        <button type="submit" className="button button-primary">Apply</button>
        {filters !== NO_FILTERS ? (
          <button type="button" className="button button-ghost" onClick={() => { setDraft(NO_FILTERS); setFilters(NO_FILTERS); }}>
            Clear
          </button>
        ) : null}
      </form>
      {downloadError ? <div className="alert alert-error">The export failed: {downloadError}</div> : null}
      {missed > 0 ? (
        <div className="alert alert-info">{missed} event(s) were skipped because they arrived faster than this page could show them.</div>
      ) : null}
      {error ? <ErrorState error={error} title="The live stream stopped" /> : null}
      {!error && rows.length === 0 ? (
        <EmptyState title="Waiting for events…">
          New events appear here the moment they are stored{filters !== NO_FILTERS ? " (if they match the filters)" : ""}.
        </EmptyState>
      ) : null}
      {rows.length > 0 ? (
        <div className="card table-card">
          <table className="table live-table" aria-label="Live events" data-testid="live-events">
            <thead>
              <tr><th>Time</th><th>Event</th><th>Person</th><th>Properties</th></tr>
            </thead>
            <tbody>
              {rows.map((event) => (
                <tr key={event.messageId} data-event={event.event} className="live-row">
                  <td className="mono nowrap">{formatTime(event.timestamp, project.timezone)}</td>
                  <td><span className="event-name">{event.event}</span>{event.isBot ? <span className="badge badge-off">bot</span> : null}</td>
                  <td className="mono truncate" title={event.distinctId ?? ""}>{event.distinctId ?? "–"}</td>
                  <td className="muted truncate" title={JSON.stringify(event.properties)}>{propertySummary(event.properties)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
