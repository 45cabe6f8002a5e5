/**
 * Event definitions and schemas: every event name the project has seen (volume, first and last seen,
 * the properties observed with their JSON types), the JSON Schemas ingest checks event properties
 * against (OFF, WARN or REJECT), and the events ingest refused, which can be replayed once a schema
 * is fixed. Reading is open to every analytics role; schemas and replays need ADMIN or DEVELOPER
 * (the server's CanManageProjects).
 */
import { useMemo, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";
import { gql, useMutation, useQuery } from "urql";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { useUser } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { formatCount } from "../lib/format";
import { useProject } from "../lib/project";
import { formatDateTime, formatRelative } from "../lib/time";
import { MANAGERS } from "../routes";

type SchemaMode = "OFF" | "WARN" | "REJECT";

interface EventProperty {
  name: string;
  type: string;
  firstSeen: string;
  lastSeen: string;
}

interface EventDefinition {
  event: string;
  volume: number;
  firstSeen: string | null;
  lastSeen: string | null;
  properties: EventProperty[];
}

interface EventSchema {
  event: string;
  jsonSchema: unknown;
  mode: SchemaMode;
  createdAt: string;
  updatedAt: string;
}

interface RejectedEvent {
  id: string;
  messageId: string;
  event: string;
  code: string;
  reason: string;
  payload: unknown;
  receivedAt: string;
  rejectedAt: string;
  replayedAt: string | null;
  replayResult: string | null;
}

interface RejectedPage {
  edges: { cursor: string; node: RejectedEvent }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

interface ReplayResult {
  replayed: number;
  accepted: number;
  stillRejected: number;
  skipped: number;
}

const SCHEMA_FIELDS = "event jsonSchema mode createdAt updatedAt";

const DEFINITIONS = gql`
  query EventDefinitions($projectId: ID!) {
    eventDefinitions(projectId: $projectId) { event volume firstSeen lastSeen properties { name type firstSeen lastSeen } }
    eventSchemas(projectId: $projectId) { ${SCHEMA_FIELDS} }
  }
`;
const REJECTED = gql`
  query RejectedEvents($projectId: ID!, $event: String, $after: String) {
    rejectedEvents(projectId: $projectId, event: $event, first: 50, after: $after) {
      edges { cursor node { id messageId event code reason payload receivedAt rejectedAt replayedAt replayResult } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const DEFINE_SCHEMA = gql`
  mutation DefineEventSchema($projectId: ID!, $event: String!, $jsonSchema: JSON!, $mode: EventSchemaMode!) {
    defineEventSchema(projectId: $projectId, event: $event, jsonSchema: $jsonSchema, mode: $mode) { ${SCHEMA_FIELDS} }
  }
`;
const DELETE_SCHEMA = gql`
  mutation DeleteEventSchema($projectId: ID!, $event: String!) { deleteEventSchema(projectId: $projectId, event: $event) }
`;
const REPLAY = gql`
  mutation ReplayRejectedEvents($projectId: ID!, $ids: [ID!]) {
    replayRejectedEvents(projectId: $projectId, ids: $ids) { replayed accepted stillRejected skipped }
  }
`;

const MODES: { mode: SchemaMode; label: string; description: string }[] = [
  { mode: "REJECT", label: "Reject", description: "refuse events that break it (kept under Rejected, replayable)" },
  { mode: "WARN", label: "Warn", description: "store them, flagged as schema violations" },
  { mode: "OFF", label: "Off", description: "do not check" },
];

const MODE_TONE: Record<SchemaMode, string> = { REJECT: "badge-danger", WARN: "badge-warn", OFF: "badge-off" };

type Tab = "events" | "schemas" | "rejected";

/** A JSON Schema accepting the properties as observed: each known property with its type(s). */
function schemaFromProperties(properties: EventProperty[]): object {
  const types = new Map<string, string[]>();
  for (const property of properties) {
    types.set(property.name, [...(types.get(property.name) ?? []), property.type]);
  }
  const shape: Record<string, { type: string | string[] }> = {};
  for (const [name, list] of [...types.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    shape[name] = { type: list.length === 1 ? list[0]! : list.sort() };
  }
  return { type: "object", properties: shape };
}

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function ModeBadge({ mode }: { mode: SchemaMode }) {
  return <span className={`badge ${MODE_TONE[mode]}`} data-mode={mode}>{mode.toLowerCase()}</span>;
}

function Tabs({ tab, onChange, counts }: { tab: Tab; onChange: (tab: Tab) => void; counts: Record<Tab, string> }) {
  const labels: Record<Tab, string> = { events: "Events", schemas: "Schemas", rejected: "Rejected" };
  return (
    <div className="defs-tabs" role="tablist" aria-label="Definitions">
      {(Object.keys(labels) as Tab[]).map((id) => (
        <button key={id} type="button" role="tab" aria-selected={tab === id} className={tab === id ? "active" : ""}
          onClick={() => onChange(id)}>
          {labels[id]}
          {counts[id] ? <span className="defs-tab-count">{counts[id]}</span> : null}
        </button>
      ))}
    </div>
  );
}

function EventsTab({ definitions, schemas, timezone, canEdit, onDefineSchema }: {
  definitions: EventDefinition[];
  schemas: EventSchema[];
  timezone: string;
  canEdit: boolean;
  onDefineSchema: (definition: EventDefinition) => void;
}) {
  const [search, setSearch] = useState("");
  const now = new Date();
  const needle = search.trim().toLowerCase();
  const shown = definitions.filter((d) => !needle || d.event.toLowerCase().includes(needle)
    || d.properties.some((p) => p.name.toLowerCase().includes(needle)));
  const maxVolume = Math.max(1, ...definitions.map((d) => d.volume));
  const schemaOf = new Map(schemas.map((s) => [s.event, s]));

  if (definitions.length === 0) {
    return (
      <EmptyState title="No events yet">
        Event names appear here with their properties as soon as the project stores its first events.
      </EmptyState>
    );
  }
  return (
    <>
      <div className="defs-toolbar">
        <input className="input" type="search" aria-label="Search events and properties" placeholder="Search events and properties…"
          value={search} onChange={(e) => setSearch(e.target.value)} />
        <span className="muted">{formatCount(definitions.length)} event names</span>
      </div>
      <div className="card table-card">
        <table className="table defs-table" aria-label="Event definitions">
          <thead>
            <tr><th>Event</th><th className="numeric">Volume</th><th>Properties</th><th>Last seen</th><th>Schema</th></tr>
          </thead>
          <tbody>
            {shown.map((definition) => {
              const schema = schemaOf.get(definition.event);
              return (
                <tr key={definition.event} data-event={definition.event}>
                  <td>
                    <strong className="mono">{definition.event}</strong>
                    {definition.firstSeen ? (
                      <div className="muted defs-small" title={formatDateTime(definition.firstSeen, timezone)}>
                        first seen {formatRelative(definition.firstSeen, now)}
                      </div>
                    ) : null}
                  </td>
                  <td className="numeric defs-volume">
                    <span className="defs-volume-value" data-testid="event-volume">{formatCount(definition.volume)}</span>
                    <span className="defs-volume-track" aria-hidden="true">
                      <span className="defs-volume-bar" style={{ width: `${(definition.volume / maxVolume) * 100}%` }} />
                    </span>
                  </td>
                  <td>
                    {definition.properties.length === 0 ? <span className="muted">none</span> : (
                      <div className="defs-chips">
                        {definition.properties.map((p) => (
                          <span key={`${p.name}:${p.type}`} className="defs-chip" data-property={p.name} data-type={p.type}
                            title={`seen ${formatDateTime(p.firstSeen, timezone)} – ${formatDateTime(p.lastSeen, timezone)}`}>
                            <span className="mono">{p.name}</span>
                            <span className={`defs-type defs-type-${p.type}`}>{p.type}</span>
                          </span>
                        ))}
                      </div>
                    )}
                  </td>
                  <td className="nowrap" title={definition.lastSeen ? formatDateTime(definition.lastSeen, timezone) : undefined}>
                    {definition.lastSeen ? formatRelative(definition.lastSeen, now) : <span className="muted">–</span>}
                  </td>
                  <td className="nowrap">
                    {schema ? <ModeBadge mode={schema.mode} /> : canEdit ? (
                      <button type="button" className="button button-small" onClick={() => onDefineSchema(definition)}>
                        Add schema
                      </button>
                    ) : <span className="muted">none</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {shown.length === 0 ? <EmptyState compact title="Nothing matches">No event or property contains “{search}”.</EmptyState> : null}
      </div>
    </>
  );
}

interface Draft {
  event: string;
  mode: SchemaMode;
  text: string;
}

function SchemaEditor({ projectId, draft, setDraft, definitions, onSaved }: {
  projectId: string;
  draft: Draft;
  setDraft: (draft: Draft) => void;
  definitions: EventDefinition[];
  onSaved: () => void;
}) {
  const [result, define] = useMutation<{ defineEventSchema: EventSchema }>(DEFINE_SCHEMA);
  const [parseError, setParseError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const observed = definitions.find((d) => d.event === draft.event.trim());

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(null);
    let jsonSchema: unknown;
    try {
      jsonSchema = JSON.parse(draft.text);
    } catch (error) {
      setParseError(`The schema is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    setParseError(null);
    const defined = await define({ projectId, event: draft.event.trim(), jsonSchema, mode: draft.mode });
    if (defined.data) {
      setSaved(defined.data.defineEventSchema.event);
      onSaved();
    }
  };

  return (
    <form className="card form form-inline-card" onSubmit={submit} aria-label="Event schema">
      <h2 className="card-title">Define a schema</h2>
      <p className="muted">A JSON Schema for an event's properties. Page and screen calls match <code>$pageview</code> and{" "}
        <code>$screen</code>. Saving replaces the event's schema; ingest uses it within seconds.</p>
      {parseError ? <div className="alert alert-error" role="alert">{parseError}</div> : null}
      {result.error ? <div className="alert alert-error" role="alert">{errorMessage(result.error)}</div> : null}
      {saved && !result.error ? <div className="alert alert-success" role="status">Schema of <strong>{saved}</strong> saved.</div> : null}
      <div className="form-row">
        <label className="field grow">
          <span className="field-label">Event</span>
          <input className="input mono" name="schemaEvent" list="defs-event-names" required maxLength={200}
            value={draft.event} onChange={(e) => setDraft({ ...draft, event: e.target.value })}
            placeholder="Order Completed" autoComplete="off" />
          <datalist id="defs-event-names">
            {definitions.map((d) => <option key={d.event} value={d.event} />)}
          </datalist>
        </label>
        <label className="field">
          <span className="field-label">Mode</span>
          <select className="input" name="schemaMode" value={draft.mode}
            onChange={(e) => setDraft({ ...draft, mode: e.target.value as SchemaMode })}>
            {MODES.map((m) => <option key={m.mode} value={m.mode}>{m.label} — {m.description}</option>)}
          </select>
        </label>
      </div>
      <label className="field">
        <span className="field-label">JSON Schema of the properties</span>
        <textarea className="input mono defs-json" name="jsonSchema" rows={10} spellCheck={false} required
          value={draft.text} onChange={(e) => setDraft({ ...draft, text: e.target.value })} />
      </label>
      <div className="settings-actions">
        <button type="submit" className="button button-primary" disabled={result.fetching || !draft.event.trim()}>
          {result.fetching ? "Saving…" : "Save schema"}
        </button>
        <button type="button" className="button" disabled={!observed}
          title={observed ? undefined : "No events of this name seen yet"}
          onClick={() => observed && setDraft({ ...draft, text: pretty(schemaFromProperties(observed.properties)) })}>
          Fill from observed properties
        </button>
      </div>
    </form>
  );
}

function SchemaRow({ schema, projectId, timezone, canEdit, onEdit, onDeleted }: {
  schema: EventSchema;
  projectId: string;
  timezone: string;
  canEdit: boolean;
  onEdit: () => void;
  onDeleted: () => void;
}) {
  const [open, setOpen] = useState(false);
  const [result, remove] = useMutation(DELETE_SCHEMA);
  const doDelete = async () => {
    if (window.confirm(`Delete the schema of “${schema.event}”? Its events are no longer checked.`)) {
      const deleted = await remove({ projectId, event: schema.event });
      if (!deleted.error) onDeleted();
    }
  };
  return (
    <>
      <tr data-schema={schema.event}>
        <td><strong className="mono">{schema.event}</strong></td>
        <td><ModeBadge mode={schema.mode} /></td>
        <td className="nowrap" title={formatDateTime(schema.updatedAt, timezone)}>{formatRelative(schema.updatedAt)}</td>
        <td className="actions">
          {result.error ? <span className="inline-error" role="alert">{errorMessage(result.error)}</span> : null}
          <button type="button" className="button button-small" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? "Hide" : "View"}
          </button>
          {canEdit ? (
            <>
              <button type="button" className="button button-small" onClick={onEdit}>Edit</button>
              <button type="button" className="button button-small button-danger" onClick={doDelete}
                disabled={result.fetching}>Delete</button>
            </>
          ) : null}
        </td>
      </tr>
      {open ? (
        <tr className="defs-detail">
          <td colSpan={4}><pre className="code defs-pre">{pretty(schema.jsonSchema)}</pre></td>
        </tr>
      ) : null}
    </>
  );
}

function SchemasTab({ projectId, schemas, definitions, timezone, canEdit, draft, setDraft, onChanged }: {
  projectId: string;
  schemas: EventSchema[];
  definitions: EventDefinition[];
  timezone: string;
  canEdit: boolean;
  draft: Draft;
  setDraft: (draft: Draft) => void;
  onChanged: () => void;
}) {
  const edit = (schema: EventSchema) => {
    setDraft({ event: schema.event, mode: schema.mode, text: pretty(schema.jsonSchema) });
    window.scrollTo({ top: 0, behavior: "smooth" });
  };
  return (
    <>
      {canEdit ? (
        <SchemaEditor projectId={projectId} draft={draft} setDraft={setDraft} definitions={definitions} onSaved={onChanged} />
      ) : null}
      {schemas.length === 0 ? (
        <EmptyState title="No schemas">
          Without a schema every event is accepted as sent.{canEdit ? " Define one above to check an event's properties." : ""}
        </EmptyState>
      ) : (
        <div className="card table-card">
          <table className="table" aria-label="Event schemas">
            <thead><tr><th>Event</th><th>Mode</th><th>Updated</th><th /></tr></thead>
            <tbody>
              {schemas.map((schema) => (
                <SchemaRow key={schema.event} schema={schema} projectId={projectId} timezone={timezone} canEdit={canEdit}
                  onEdit={() => edit(schema)} onDeleted={onChanged} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function RejectedTab({ projectId, definitions, timezone, canEdit }: {
  projectId: string;
  definitions: EventDefinition[];
  timezone: string;
  canEdit: boolean;
}) {
  const [event, setEvent] = useState("");
  const [after, setAfter] = useState<string | null>(null);
  const [older, setOlder] = useState<RejectedPage["edges"]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [replayed, setReplayed] = useState<ReplayResult | null>(null);
  const [result, reexecute] = useQuery<{ rejectedEvents: RejectedPage }>({
    query: REJECTED, variables: { projectId, event: event || null, after },
  });
  const [replayResult, replay] = useMutation<{ replayRejectedEvents: ReplayResult }>(REPLAY);
  const page = result.data?.rejectedEvents;
  const rows = useMemo(() => {
    const seen = new Set<string>();
    return [...older, ...(page?.edges ?? [])].filter((edge) => !seen.has(edge.node.id) && seen.add(edge.node.id));
  }, [older, page]);
  const eventNames = useMemo(
    () => [...new Set([...definitions.map((d) => d.event), ...rows.map((r) => r.node.event)])].sort(),
    [definitions, rows],
  );

  const restart = (nextEvent: string) => {
    setEvent(nextEvent);
    setAfter(null);
    setOlder([]);
    setSelected(new Set());
  };
  const reload = () => {
    setOlder([]);
    setAfter(null);
    reexecute({ requestPolicy: "network-only" });
  };
  const loadMore = () => {
    if (!page?.pageInfo.endCursor) return;
    setOlder(rows);
    setAfter(page.pageInfo.endCursor);
  };
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const doReplay = async () => {
    setReplayed(null);
    const done = await replay({ projectId, ids: [...selected] });
    if (done.data) {
      setReplayed(done.data.replayRejectedEvents);
      setSelected(new Set());
      reload();
    }
  };
  const replayable = rows.filter((r) => r.node.replayResult !== "ACCEPTED");
  const allSelected = replayable.length > 0 && replayable.every((r) => selected.has(r.node.id));

  return (
    <>
      <div className="defs-toolbar">
        <label className="field">
          <span className="field-label">Event</span>
          <select className="input" aria-label="Rejected event name" value={event} onChange={(e) => restart(e.target.value)}>
            <option value="">All events</option>
            {eventNames.map((name) => <option key={name} value={name}>{name}</option>)}
          </select>
        </label>
        <button type="button" className="button" onClick={reload}>Refresh</button>
        {canEdit ? (
          <button type="button" className="button button-primary" disabled={selected.size === 0 || replayResult.fetching}
            onClick={doReplay}>
            {replayResult.fetching ? "Replaying…" : `Replay selected (${selected.size})`}
          </button>
        ) : null}
      </div>
      <p className="muted defs-note">Events ingest refused (a schema in reject mode, a missing identity, …) are kept here.
        Fix the schema, then replay them: each is stored once, however often it is replayed.</p>
      {replayResult.error ? <div className="alert alert-error" role="alert">{errorMessage(replayResult.error)}</div> : null}
      {replayed ? (
        <div className="alert alert-success" role="status" data-testid="replay-result">
          Replayed {replayed.replayed}: {replayed.accepted} accepted, {replayed.stillRejected} still rejected
          {replayed.skipped ? `, ${replayed.skipped} skipped` : ""}.
        </div>
      ) : null}
      {result.fetching && !result.data && rows.length === 0 ? <LoadingState /> : null}
      {result.error ? <ErrorState error={result.error} onRetry={reload} /> : null}
      {result.data && rows.length === 0 ? (
        <EmptyState title="No rejected events">{event ? `Nothing of “${event}” was refused.` : "Ingest has refused nothing so far."}</EmptyState>
      ) : null}
      {rows.length > 0 ? (
        <div className="card table-card">
          <table className="table" aria-label="Rejected events">
            <thead>
              <tr>
                {canEdit ? (
                  <th className="defs-check">
                    <input type="checkbox" aria-label="Select all" checked={allSelected}
                      onChange={() => setSelected(allSelected ? new Set() : new Set(replayable.map((r) => r.node.id)))} />
                  </th>
                ) : null}
                <th>Event</th><th>Why</th><th>Received</th><th>Replay</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ node }) => (
                <tr key={node.id} data-rejected={node.event} data-message-id={node.messageId}>
                  {canEdit ? (
                    <td className="defs-check">
                      <input type="checkbox" aria-label={`Select ${node.messageId}`} checked={selected.has(node.id)}
                        disabled={node.replayResult === "ACCEPTED"} onChange={() => toggle(node.id)} />
                    </td>
                  ) : null}
                  <td>
                    <strong className="mono">{node.event || "—"}</strong>
                    <div className="muted mono defs-small" title="message id">{node.messageId}</div>
                  </td>
                  <td>
                    <span className="badge badge-danger">{node.code}</span>
                    <div className="defs-reason">{node.reason}</div>
                    {node.payload ? (
                      <details className="defs-payload">
                        <summary>Payload</summary>
                        <pre className="code defs-pre">{pretty(node.payload)}</pre>
                      </details>
                    ) : null}
                  </td>
                  <td className="nowrap" title={formatDateTime(node.receivedAt, timezone)}>
                    {formatDateTime(node.receivedAt, timezone)}
                  </td>
                  <td className="nowrap">
                    {node.replayResult ? (
                      <span className={`badge ${node.replayResult === "ACCEPTED" ? "badge-ok" : "badge-warn"}`}
                        title={node.replayedAt ? formatDateTime(node.replayedAt, timezone) : undefined}>
                        {node.replayResult === "ACCEPTED" ? "accepted" : node.replayResult.toLowerCase()}
                      </span>
                    ) : <span className="muted">not replayed</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {page?.pageInfo.hasNextPage ? (
            <div className="defs-more">
              <button type="button" className="button" onClick={loadMore} disabled={result.fetching}>Load older</button>
            </div>
          ) : null}
        </div>
      ) : null}
    </>
  );
}

const EMPTY_DRAFT: Draft = { event: "", mode: "REJECT", text: pretty({ type: "object", properties: {} }) };

export default function DefinitionsPage() {
  const user = useUser();
  const project = useProject();
  const canEdit = MANAGERS.includes(user.role);
  const [params, setParams] = useSearchParams();
  const tabParam = params.get("tab");
  const tab: Tab = tabParam === "schemas" || tabParam === "rejected" ? tabParam : "events";
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [result, reexecute] = useQuery<{ eventDefinitions: EventDefinition[]; eventSchemas: EventSchema[] }>({
    query: DEFINITIONS, variables: { projectId: project.id },
  });
  const reload = () => reexecute({ requestPolicy: "network-only" });
  const definitions = result.data?.eventDefinitions ?? [];
  const schemas = result.data?.eventSchemas ?? [];

  const setTab = (next: Tab) => setParams(next === "events" ? {} : { tab: next }, { replace: true });
  const defineFor = (definition: EventDefinition) => {
    setDraft({ event: definition.event, mode: "REJECT", text: pretty(schemaFromProperties(definition.properties)) });
    setTab("schemas");
  };

  return (
    <div className="page">
      <PageHeader title="Event definitions"
        description={<>The events <strong>{project.name}</strong> receives, the properties they carry, and the schemas
          that check them.</>}
        actions={tab === "rejected" ? undefined : <button type="button" className="button" onClick={reload}>Refresh</button>} />
      <Tabs tab={tab} onChange={setTab} counts={{
        events: result.data ? formatCount(definitions.length) : "",
        schemas: result.data ? formatCount(schemas.length) : "",
        rejected: "",
      }} />
      {tab !== "rejected" && result.fetching && !result.data ? <LoadingState /> : null}
      {tab !== "rejected" && result.error ? <ErrorState error={result.error} onRetry={reload} /> : null}
      {tab === "events" && result.data ? (
        <EventsTab definitions={definitions} schemas={schemas} timezone={project.timezone} canEdit={canEdit}
          onDefineSchema={defineFor} />
      ) : null}
      {tab === "schemas" && result.data ? (
        <SchemasTab projectId={project.id} schemas={schemas} definitions={definitions} timezone={project.timezone}
          canEdit={canEdit} draft={draft} setDraft={setDraft} onChanged={reload} />
      ) : null}
      {tab === "rejected" ? (
        <RejectedTab key={project.id} projectId={project.id} definitions={definitions} timezone={project.timezone}
          canEdit={canEdit} />
      ) : null}
    </div>
  );
}
