/**
 * Destinations (outbound webhooks): the project's matching events POSTed as signed JSON batches to a URL.
 * List with delivery state and recent failures; create (the signing secret is shown once), edit the filter,
 * enable/disable, rotate the secret, send a test batch, delete; dead letters with retry. docs/webhooks.md
 * is the reference for the payload and the signature.
 */
import { useState, type FormEvent } from "react";
import { gql, useMutation, useQuery } from "urql";
import { CopyButton } from "../components/CopyButton";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { errorMessage } from "../lib/errors";
import { useProject } from "../lib/project";
import { formatDateTime, formatRelative } from "../lib/time";

type Operator = "EQ" | "NEQ" | "CONTAINS" | "NOT_CONTAINS" | "GT" | "LT" | "IS_SET" | "IS_NOT_SET" | "IN";
type State = "HEALTHY" | "FAILING" | "PAUSED" | "WAITING";

interface Predicate {
  key: string;
  operator: Operator;
  value: unknown;
}

interface Destination {
  id: string;
  name: string;
  url: string;
  enabled: boolean;
  filter: { events: string[]; properties: Predicate[] };
  status: {
    state: State;
    lastSuccessAt: string | null;
    lastFailureAt: string | null;
    lastError: string | null;
    consecutiveFailures: number;
    deliveredEvents: number;
    deadLetters: number;
    pending: number | null;
  };
}

interface Failure {
  at: string;
  attempt: number;
  statusCode: number | null;
  error: string;
}

interface DeadLetter {
  id: string;
  events: number;
  attempts: number;
  lastError: string;
  parkedAt: string;
}

const FIELDS = `id name url enabled filter { events properties { key operator value } }
  status { state lastSuccessAt lastFailureAt lastError consecutiveFailures deliveredEvents deadLetters pending }`;

const DESTINATIONS = gql`query Destinations($projectId: ID!) { destinations(projectId: $projectId) { ${FIELDS} } }`;
const CREATE = gql`
  mutation CreateDestination($projectId: ID!, $input: DestinationInput!) {
    createDestination(projectId: $projectId, input: $input) { secret destination { ${FIELDS} } }
  }
`;
const UPDATE = gql`
  mutation UpdateDestination($id: ID!, $enabled: Boolean, $filter: DestinationFilterInput) {
    updateDestination(id: $id, enabled: $enabled, filter: $filter) { ${FIELDS} }
  }
`;
const ROTATE = gql`mutation RotateDestinationSecret($id: ID!) { rotateDestinationSecret(id: $id) { secret } }`;
const DELETE = gql`mutation DeleteDestination($id: ID!) { deleteDestination(id: $id) }`;
const TEST = gql`mutation TestDestination($id: ID!) { testDestination(id: $id) { ok statusCode error } }`;
const DETAILS = gql`
  query DestinationDetails($id: ID!, $after: ID) {
    destinationFailures(destinationId: $id, limit: 10) { at attempt statusCode error }
    destinationDeadLetters(destinationId: $id, first: 20, after: $after) {
      total nextCursor items { id events attempts lastError parkedAt }
    }
  }
`;
const RETRY = gql`
  mutation RetryDeadLetters($id: ID!, $ids: [ID!]) {
    retryDeadLetters(destinationId: $id, ids: $ids) { delivered failed remaining error }
  }
`;

const OPERATORS: { value: Operator; label: string }[] = [
  { value: "EQ", label: "equals" },
  { value: "NEQ", label: "does not equal" },
  { value: "CONTAINS", label: "contains" },
  { value: "NOT_CONTAINS", label: "does not contain" },
  { value: "GT", label: "greater than" },
  { value: "LT", label: "less than" },
  { value: "IS_SET", label: "is set" },
  { value: "IS_NOT_SET", label: "is not set" },
  { value: "IN", label: "is one of" },
];
const NO_VALUE: Operator[] = ["IS_SET", "IS_NOT_SET"];

const STATE_TONES: Record<State, { label: string; tone: string }> = {
  HEALTHY: { label: "Healthy", tone: "ok" },
  FAILING: { label: "Failing", tone: "danger" },
  PAUSED: { label: "Paused", tone: "off" },
  WAITING: { label: "Waiting for events", tone: "warn" },
};

/** A predicate row as typed: the value stays text until it is sent. */
interface PredicateDraft {
  key: string;
  operator: Operator;
  value: string;
}

function valueText(predicate: Predicate): string {
  if (predicate.value === null || predicate.value === undefined) return "";
  if (Array.isArray(predicate.value)) return predicate.value.join(", ");
  return String(predicate.value);
}

/** Numbers for GT/LT, a list for IN, text otherwise: text matches a property's text form, so "5" matches
 * both 5 and "5", and "true" matches true (the analytics filters' semantics). */
function parsedValue(draft: PredicateDraft): unknown {
  const text = draft.value.trim();
  if (NO_VALUE.includes(draft.operator)) return null;
  if (draft.operator === "IN") return text.split(",").map((item) => item.trim()).filter(Boolean);
  if (draft.operator === "GT" || draft.operator === "LT") return text === "" ? text : Number(text);
  return text;
}

function filterInput(events: string, predicates: PredicateDraft[]) {
  return {
    events: events.split(",").map((name) => name.trim()).filter(Boolean),
    properties: predicates.filter((p) => p.key.trim()).map((p) => ({
      key: p.key.trim(), operator: p.operator, value: parsedValue(p),
    })),
  };
}

function FilterEditor({ events, setEvents, predicates, setPredicates }: {
  events: string;
  setEvents: (value: string) => void;
  predicates: PredicateDraft[];
  setPredicates: (value: PredicateDraft[]) => void;
}) {
  const change = (index: number, patch: Partial<PredicateDraft>) =>
    setPredicates(predicates.map((p, i) => (i === index ? { ...p, ...patch } : p)));
  return (
    <div className="filter-editor">
      <label className="field grow">
        <span className="field-label">Event names (comma separated; empty: every event)</span>
        <input className="input" name="events" value={events} onChange={(e) => setEvents(e.target.value)}
          placeholder="Order Completed, $pageview" maxLength={10_000} />
      </label>
      {predicates.map((predicate, index) => (
        <div className="form-row" key={index} data-testid="predicate">
          <input className="input" aria-label="Property" placeholder="property (or $browser, $country…)"
            value={predicate.key} maxLength={200} onChange={(e) => change(index, { key: e.target.value })} />
          <select className="input" aria-label="Operator" value={predicate.operator}
            onChange={(e) => change(index, { operator: e.target.value as Operator })}>
            {OPERATORS.map((op) => <option key={op.value} value={op.value}>{op.label}</option>)}
          </select>
          {NO_VALUE.includes(predicate.operator) ? null : (
            <input className="input" aria-label="Value" value={predicate.value} maxLength={2000}
              placeholder={predicate.operator === "IN" ? "a, b, c" : "value"}
              onChange={(e) => change(index, { value: e.target.value })} />
          )}
          <button type="button" className="button button-small button-ghost"
            onClick={() => setPredicates(predicates.filter((_, i) => i !== index))}>Remove</button>
        </div>
      ))}
      {predicates.length < 20 ? (
        <button type="button" className="button button-small"
          onClick={() => setPredicates([...predicates, { key: "", operator: "EQ", value: "" }])}>
          Add property condition
        </button>
      ) : null}
    </div>
  );
}

function SecretCallout({ secret, name, onDone }: { secret: string; name: string; onDone: () => void }) {
  return (
    <div className="card callout" role="status" data-testid="destination-secret">
      <div className="callout-title">Signing secret for “{name}”: copy it now</div>
      <p className="muted">
        This is the only time it is shown. Your receiver verifies the <code>X-TrackMint-Signature</code> header
        with it (docs/webhooks.md).
      </p>
      <div className="secret-row">
        <code className="secret" data-testid="destination-secret-value">{secret}</code>
        <CopyButton text={secret} />
      </div>
      <button type="button" className="button button-ghost button-small" onClick={onDone}>I have stored it</button>
    </div>
  );
}

function Details({ destination, timezone, onChanged }: {
  destination: Destination;
  timezone: string;
  onChanged: () => void;
}) {
  const [after, setAfter] = useState<string | null>(null);
  const [result, reexecute] = useQuery<{
    destinationFailures: Failure[];
    destinationDeadLetters: { total: number; nextCursor: string | null; items: DeadLetter[] };
  }>({ query: DETAILS, variables: { id: destination.id, after }, requestPolicy: "network-only" });
  const [retryResult, retry] = useMutation<{
    retryDeadLetters: { delivered: number; failed: number; remaining: number; error: string | null };
  }>(RETRY);
  const reload = () => {
    reexecute({ requestPolicy: "network-only" });
    onChanged();
  };
  const doRetry = async (ids: string[] | null) => {
    const done = await retry({ id: destination.id, ids });
    if (done.data) reload();
  };
  if (result.fetching && !result.data) return <LoadingState compact />;
  if (result.error) return <ErrorState compact error={result.error} onRetry={reload} />;
  const failures = result.data?.destinationFailures ?? [];
  const letters = result.data?.destinationDeadLetters;
  const outcome = retryResult.data?.retryDeadLetters;
  return (
    <div className="destination-details" data-testid="destination-details">
      <h3>Recent failures</h3>
      {failures.length === 0 ? <EmptyState compact title="No failed attempts" /> : (
        <table className="table" aria-label="Recent failures">
          <thead><tr><th>When</th><th>Attempt</th><th>Status</th><th>Error</th></tr></thead>
          <tbody>
            {failures.map((failure, index) => (
              <tr key={index}>
                <td title={formatDateTime(failure.at, timezone)}>{formatRelative(failure.at)}</td>
                <td>{failure.attempt}</td>
                <td>{failure.statusCode ?? "no answer"}</td>
                <td className="mono">{failure.error}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Dead letters {letters ? `(${letters.total})` : ""}</h3>
      {retryResult.error ? <div className="alert alert-error" role="alert">{errorMessage(retryResult.error)}</div> : null}
      {outcome ? (
        <div className={`alert ${outcome.error ? "alert-error" : "alert-success"}`} role="status" data-testid="retry-outcome">
          Delivered {outcome.delivered}; {outcome.remaining} waiting.{outcome.error ? ` Stopped: ${outcome.error}` : ""}
        </div>
      ) : null}
      {!letters || letters.items.length === 0 ? (
        <EmptyState compact title="No dead letters">Batches that fail every attempt are parked here.</EmptyState>
      ) : (
        <>
          <div className="form-row">
            <button type="button" className="button button-small button-primary" disabled={retryResult.fetching}
              onClick={() => doRetry(null)}>{retryResult.fetching ? "Retrying…" : "Retry all (oldest first)"}</button>
          </div>
          <table className="table" aria-label="Dead letters">
            <thead><tr><th>Parked</th><th>Events</th><th>Attempts</th><th>Last error</th><th /></tr></thead>
            <tbody>
              {letters.items.map((letter) => (
                <tr key={letter.id}>
                  <td title={formatDateTime(letter.parkedAt, timezone)}>{formatRelative(letter.parkedAt)}</td>
                  <td>{letter.events}</td>
                  <td>{letter.attempts}</td>
                  <td className="mono">{letter.lastError}</td>
                  <td className="actions">
                    <button type="button" className="button button-small" disabled={retryResult.fetching}
                      onClick={() => doRetry([letter.id])}>Retry</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="form-row">
            {after ? <button type="button" className="button button-small" onClick={() => setAfter(null)}>First page</button> : null}
            {letters.nextCursor ? (
              <button type="button" className="button button-small" onClick={() => setAfter(letters.nextCursor)}>Next page</button>
            ) : null}
          </div>
        </>
      )}
    </div>
  );
}

function DestinationRow({ destination, timezone, onSecret, onChanged }: {
  destination: Destination;
  timezone: string;
  onSecret: (secret: string, name: string) => void;
  onChanged: () => void;
}) {
  const [open, setOpen] = useState(false);
  const [editing, setEditing] = useState(false);
  const [events, setEvents] = useState(destination.filter.events.join(", "));
  const [predicates, setPredicates] = useState<PredicateDraft[]>(
    destination.filter.properties.map((p) => ({ key: p.key, operator: p.operator, value: valueText(p) })));
  const [updateResult, update] = useMutation(UPDATE);
  const [rotateResult, rotate] = useMutation<{ rotateDestinationSecret: { secret: string } }>(ROTATE);
  const [deleteResult, remove] = useMutation(DELETE);
  const [testResult, test] = useMutation<{ testDestination: { ok: boolean; statusCode: number | null; error: string | null } }>(TEST);
  const state = STATE_TONES[destination.status.state];
  const status = destination.status;
  const error = updateResult.error ?? rotateResult.error ?? deleteResult.error ?? testResult.error;
  const tested = testResult.data?.testDestination;

  const toggle = async () => {
    const done = await update({ id: destination.id, enabled: !destination.enabled });
    if (!done.error) onChanged();
  };
  const saveFilter = async () => {
    const done = await update({ id: destination.id, filter: filterInput(events, predicates) });
    if (!done.error) {
      setEditing(false);
      onChanged();
    }
  };
  const doRotate = async () => {
    if (!window.confirm(`Rotate the signing secret of “${destination.name}”? The old one stops at once.`)) return;
    const done = await rotate({ id: destination.id });
    if (done.data) onSecret(done.data.rotateDestinationSecret.secret, destination.name);
  };
  const doDelete = async () => {
    if (!window.confirm(`Delete “${destination.name}” with its dead letters? Nothing more is sent to it.`)) return;
    const done = await remove({ id: destination.id });
    if (!done.error) onChanged();
  };

  return (
    <>
      <tr data-destination-id={destination.id} className={destination.enabled ? "" : "row-muted"}>
        <td>
          <strong>{destination.name}</strong>
          <div className="mono muted">{destination.url}</div>
          <div className="muted">
            {destination.filter.events.length ? destination.filter.events.join(", ") : "every event"}
            {destination.filter.properties.length ? ` · ${destination.filter.properties.length} property condition(s)` : ""}
          </div>
        </td>
        <td>
          <span className={`badge badge-${state.tone}`} data-testid="destination-state">{state.label}</span>
          {status.lastError && status.state === "FAILING" ? (
            <div className="inline-error mono" title={status.lastError}>
              {status.consecutiveFailures} failed: {status.lastError.slice(0, 80)}
            </div>
          ) : null}
        </td>
        <td data-testid="destination-delivered">{status.deliveredEvents.toLocaleString()}</td>
        <td>{status.pending ?? "–"}</td>
        <td>{status.deadLetters}</td>
        <td title={status.lastSuccessAt ? formatDateTime(status.lastSuccessAt, timezone) : undefined}>
          {status.lastSuccessAt ? formatRelative(status.lastSuccessAt) : <span className="muted">never</span>}
        </td>
        <td className="actions">
          {error ? <span className="inline-error" role="alert">{errorMessage(error)}</span> : null}
          {tested ? (
            <span className={tested.ok ? "badge badge-ok" : "inline-error"} role="status" data-testid="test-outcome">
              {tested.ok ? `Test delivered (${tested.statusCode})` : `Test failed: ${tested.error}`}
            </span>
          ) : null}
          <button type="button" className="button button-small" onClick={() => test({ id: destination.id })}
            disabled={testResult.fetching}>{testResult.fetching ? "Testing…" : "Test"}</button>
          <button type="button" className="button button-small" onClick={toggle} disabled={updateResult.fetching}>
            {destination.enabled ? "Disable" : "Enable"}
          </button>
          <button type="button" className="button button-small" onClick={() => setEditing(!editing)}>Edit filter</button>
          <button type="button" className="button button-small" onClick={doRotate} disabled={rotateResult.fetching}>Rotate secret</button>
          <button type="button" className="button button-small" onClick={() => setOpen(!open)}>
            {open ? "Hide details" : "Failures & dead letters"}
          </button>
          <button type="button" className="button button-small button-danger" onClick={doDelete}
            disabled={deleteResult.fetching}>Delete</button>
        </td>
      </tr>
      {editing ? (
        <tr>
          <td colSpan={7}>
            <FilterEditor events={events} setEvents={setEvents} predicates={predicates} setPredicates={setPredicates} />
            <div className="form-row">
              <button type="button" className="button button-small button-primary" onClick={saveFilter}
                disabled={updateResult.fetching}>Save filter</button>
              <button type="button" className="button button-small button-ghost" onClick={() => setEditing(false)}>Cancel</button>
            </div>
          </td>
        </tr>
      ) : null}
      {open ? (
        <tr>
          <td colSpan={7}><Details destination={destination} timezone={timezone} onChanged={onChanged} /></td>
        </tr>
      ) : null}
    </>
  );
}

export default function DestinationsPage() {
  const project = useProject();
  const [result, reexecute] = useQuery<{ destinations: Destination[] }>({
    query: DESTINATIONS, variables: { projectId: project.id },
  });
  const [createResult, create] = useMutation<{ createDestination: { secret: string; destination: Destination } }>(CREATE);
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("");
  const [predicates, setPredicates] = useState<PredicateDraft[]>([]);
  const [secret, setSecret] = useState<{ secret: string; name: string } | null>(null);
  const reload = () => reexecute({ requestPolicy: "network-only" });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const created = await create({
      projectId: project.id,
      input: { name: name.trim(), url: url.trim(), filter: filterInput(events, predicates) },
    });
    if (created.data) {
      setSecret({ secret: created.data.createDestination.secret, name: created.data.createDestination.destination.name });
      setName("");
      setUrl("");
      setEvents("");
      setPredicates([]);
      reload();
    }
  };
  const destinations = result.data?.destinations ?? [];

  return (
    <div className="page">
      <PageHeader title="Destinations"
        description={<>Send <strong>{project.name}</strong>'s events, as they arrive, to a URL of yours: signed
          JSON batches, retried with backoff, in order.</>}
        actions={<button type="button" className="button button-small" onClick={reload}>Refresh</button>} />
      {secret ? <SecretCallout secret={secret.secret} name={secret.name} onDone={() => setSecret(null)} /> : null}
      <form className="card form form-inline-card" onSubmit={submit} aria-label="Create destination">
        <div className="form-row">
          <label className="field grow">
            <span className="field-label">Name</span>
            <input className="input" name="name" required value={name} maxLength={200}
              onChange={(e) => setName(e.target.value)} placeholder="Warehouse loader" />
          </label>
          <label className="field grow">
            <span className="field-label">URL</span>
            <input className="input" name="url" type="url" required value={url} maxLength={2000}
              onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/trackmint-hook" />
          </label>
        </div>
        <FilterEditor events={events} setEvents={setEvents} predicates={predicates} setPredicates={setPredicates} />
        <div className="form-row">
          <button type="submit" className="button button-primary" disabled={createResult.fetching || !name.trim() || !url.trim()}>
            {createResult.fetching ? "Creating…" : "Create destination"}
          </button>
        </div>
        {createResult.error ? <div className="alert alert-error" role="alert">{errorMessage(createResult.error)}</div> : null}
      </form>
      {result.fetching && !result.data ? <LoadingState /> : null}
      {result.error ? <ErrorState error={result.error} onRetry={reload} /> : null}
      {result.data && destinations.length === 0 ? (
        <EmptyState title="No destinations yet">Create one above; it receives the events accepted from then on.</EmptyState>
      ) : null}
      {destinations.length > 0 ? (
        <div className="card table-card">
          <table className="table" aria-label="Destinations">
            <thead>
              <tr><th>Destination</th><th>State</th><th>Delivered</th><th>Pending</th><th>Dead letters</th><th>Last success</th><th /></tr>
            </thead>
            <tbody>
              {destinations.map((destination) => (
                <DestinationRow key={destination.id} destination={destination} timezone={project.timezone}
                  onSecret={(value, label) => setSecret({ secret: value, name: label })} onChanged={reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
