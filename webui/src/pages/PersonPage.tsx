/**
 * One person's journey: their traits and distinct ids, then their sessions newest first, each with
 * its events in the order they happened (properties expandable). Older sessions load page by page.
 * The personal data card exports everything about the person and, for admins, erases them (GDPR).
 */
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { gql, useMutation, useQuery } from "urql";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { useUser } from "../lib/auth";
import { downloadExport } from "../lib/exports";
import { formatDuration } from "../lib/format";
import { useProject } from "../lib/project";
import { formatDate, formatDateTime, formatTime } from "../lib/time";
import { personName, traitValue, type PersonSummary } from "./persons/personDisplay";

const SESSIONS_PER_PAGE = 10;

const PERSON = gql`
  query Person($projectId: ID!, $id: ID!) {
    person(projectId: $projectId, id: $id) { id distinctIds traits isIdentified firstSeen lastSeen }
  }
`;

const JOURNEY = gql`
  query PersonJourney($projectId: ID!, $personId: ID!, $limit: Int!, $before: String) {
    personJourney(projectId: $projectId, personId: $personId, limit: $limit, before: $before) {
      personId merged hasMore nextCursor
      sessions {
        id cursor startedAt endedAt durationSeconds eventCount pageviewCount isBounce entryPage exitPage
        referrerDomain referrerChannel utmSource utmCampaign deviceType browser os country city moreEvents
        events { messageId type event name time distinctId pagePath properties }
      }
    }
  }
`;

const ERASE = gql`
  mutation ErasePerson($projectId: ID!, $personId: ID!) {
    erasePerson(projectId: $projectId, personId: $personId) { personId events sessions distinctIds }
  }
`;

interface JourneyEvent {
  messageId: string;
  type: string;
  event: string;
  name: string;
  time: string;
  distinctId: string;
  pagePath: string | null;
  properties: Record<string, unknown>;
}

interface JourneySession {
  id: string;
  cursor: string;
  startedAt: string;
  endedAt: string;
  durationSeconds: number;
  eventCount: number;
  pageviewCount: number;
  isBounce: boolean;
  entryPage: string | null;
  exitPage: string | null;
  referrerDomain: string | null;
  referrerChannel: string | null;
  utmSource: string | null;
  utmCampaign: string | null;
  deviceType: string | null;
  browser: string | null;
  os: string | null;
  country: string | null;
  city: string | null;
  moreEvents: number;
  events: JourneyEvent[];
}

interface JourneyData {
  personJourney: {
    personId: string;
    merged: boolean;
    hasMore: boolean;
    nextCursor: string | null;
    sessions: JourneySession[];
  };
}

function EventRow({ event, timeZone, showDistinctId }: { event: JourneyEvent; timeZone: string; showDistinctId: boolean }) {
  const hasProperties = Object.keys(event.properties ?? {}).length > 0;
  const label = event.type === "PAGE" || event.type === "SCREEN" ? event.name || event.pagePath || event.event : event.event;
  return (
    <li className="journey-event" data-message-id={event.messageId} data-event={event.event}>
      <time className="journey-time mono" dateTime={event.time} title={formatDateTime(event.time, timeZone)}>
        {formatTime(event.time, timeZone)}
      </time>
      <span className={`journey-dot journey-dot-${event.type.toLowerCase()}`} aria-hidden="true" />
      <div className="journey-body">
        <details className="journey-details">
          <summary>
            <span className="event-name" data-testid="journey-event-name">{event.event}</span>
            {label !== event.event ? <span className="muted">{label}</span> : null}
            {event.pagePath && label !== event.pagePath ? <code className="person-id-chip">{event.pagePath}</code> : null}
            {showDistinctId ? <span className="muted mono journey-distinct">{event.distinctId}</span> : null}
            {hasProperties ? <span className="journey-toggle muted">properties</span> : null}
          </summary>
          {hasProperties ? (
            <pre className="code journey-properties">{JSON.stringify(event.properties, null, 2)}</pre>
          ) : (
            <div className="muted journey-properties-empty">No properties.</div>
          )}
        </details>
      </div>
    </li>
  );
}

function SessionCard({ session, timeZone, showDistinctId }: { session: JourneySession; timeZone: string; showDistinctId: boolean }) {
  const facts = [
    session.browser && `${session.browser}${session.os ? ` on ${session.os}` : ""}`,
    session.deviceType,
    [session.city, session.country].filter(Boolean).join(", ") || null,
    session.referrerChannel && `${session.referrerChannel}${session.referrerDomain ? ` · ${session.referrerDomain}` : ""}`,
    session.utmSource && `utm ${session.utmSource}${session.utmCampaign ? ` / ${session.utmCampaign}` : ""}`,
  ].filter(Boolean) as string[];
  return (
    <section className="card journey-session" data-session-id={session.id} data-started-at={session.startedAt}
      aria-label={`Session of ${formatDateTime(session.startedAt, timeZone)}`}>
      <header className="journey-session-header">
        <div>
          <div className="journey-session-title">
            {formatDateTime(session.startedAt, timeZone)}
            <span className="muted"> · {formatDuration(session.durationSeconds)}</span>
            {session.isBounce ? <span className="badge badge-warn">bounce</span> : null}
          </div>
          <div className="muted journey-facts">
            {session.eventCount} {session.eventCount === 1 ? "event" : "events"} · {session.pageviewCount}{" "}
            {session.pageviewCount === 1 ? "page view" : "page views"}
            {session.entryPage ? <> · {session.entryPage}{session.exitPage && session.exitPage !== session.entryPage ? ` → ${session.exitPage}` : ""}</> : null}
          </div>
        </div>
        <div className="journey-tags">
          {facts.map((fact) => <span key={fact} className="badge">{fact}</span>)}
        </div>
      </header>
      <ol className="journey-events">
        {session.events.map((event) => (
          <EventRow key={event.messageId} event={event} timeZone={timeZone} showDistinctId={showDistinctId} />
        ))}
      </ol>
      {session.moreEvents > 0 ? (
        <div className="muted journey-more">…and {session.moreEvents} more {session.moreEvents === 1 ? "event" : "events"}</div>
      ) : null}
    </section>
  );
}

/** One page of sessions; the last page offers the next (older) one. */
function JourneyChunk({ personId, before, last, onMore, showDistinctId }: {
  personId: string;
  before: string | null;
  last: boolean;
  onMore: (cursor: string) => void;
  showDistinctId: boolean;
}) {
  const project = useProject();
  const [result, reexecute] = useQuery<JourneyData>({
    query: JOURNEY,
    variables: { projectId: project.id, personId, limit: SESSIONS_PER_PAGE, before },
  });
  const journey = result.data?.personJourney;
  if (result.fetching && !journey) return <LoadingState label="Loading sessions…" />;
  if (result.error) return <ErrorState error={result.error} onRetry={() => reexecute({ requestPolicy: "network-only" })} />;
  if (!journey) return null;
  if (!before && journey.sessions.length === 0) {
    return <EmptyState title="No sessions">This person has no events outside bots yet.</EmptyState>;
  }
  let previousDay = "";
  return (
    <>
      {journey.sessions.map((session) => {
        const day = formatDate(session.startedAt, project.timezone);
        const heading = day !== previousDay ? <h2 className="journey-day" key={`day-${session.id}`}>{day}</h2> : null;
        previousDay = day;
        return (
          <div key={session.id} className="journey-item">
            {heading}
            <SessionCard session={session} timeZone={project.timezone} showDistinctId={showDistinctId} />
          </div>
        );
      })}
      {last && journey.hasMore && journey.nextCursor ? (
        <button type="button" className="button journey-older" onClick={() => onMore(journey.nextCursor!)}>
          Load older sessions
        </button>
      ) : null}
    </>
  );
}

/** Export everything stored about the person; erase them for good (admins, after typing a confirmation). */
function PersonalDataCard({ person }: { person: PersonSummary }) {
  const project = useProject();
  const user = useUser();
  const navigate = useNavigate();
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState("");
  const [erasure, erase] = useMutation<{ erasePerson: { events: number; sessions: number } }>(ERASE);

  const doErase = async () => {
    const result = await erase({ projectId: project.id, personId: person.id });
    const erased = result.data?.erasePerson;
    if (erased) {
      navigate("/persons", {
        state: { notice: `${personName(person)} was erased: ${erased.events} events and ${erased.sessions} sessions deleted.` },
      });
    }
  };

  return (
    <section className="card person-card" aria-label="Personal data">
      <header className="card-header"><h2 className="card-title">Personal data</h2></header>
      <p className="muted person-empty">Everything stored about this person, for an access or portability request.</p>
      <div className="person-data-actions">
        <button type="button" className="button button-small" disabled={exporting}
          onClick={() => {
            setExporting(true);
            setExportError(null);
            downloadExport("person", project.id, { personId: person.id })
              .catch((error: Error) => setExportError(error.message))
              .finally(() => setExporting(false));
          }}>
          Export data (JSON Lines)
        </button>
        {exportError ? <div className="alert alert-error">The export failed: {exportError}</div> : null}
        {user.role === "ADMIN" ? (
          confirming ? (
            <form className="person-erase" onSubmit={(event) => { event.preventDefault(); void doErase(); }}>
              <p>
                Erasing deletes this person, their {person.distinctIds.length} distinct{" "}
                {person.distinctIds.length === 1 ? "id" : "ids"}, every event and session, and their share of every
                chart. It cannot be undone. Type <strong>erase</strong> to confirm.
              </p>
              <input className="input" aria-label="Type erase to confirm" value={typed} autoFocus
                onChange={(event) => setTyped(event.target.value)} />
              {erasure.error ? <div className="alert alert-error">{erasure.error.graphQLErrors[0]?.message ?? erasure.error.message}</div> : null}
              <div className="person-erase-actions">
                <button type="submit" className="button button-small button-danger"
                  disabled={typed.trim().toLowerCase() !== "erase" || erasure.fetching}>
                  {erasure.fetching ? "Erasing…" : "Erase for good"}
                </button>
                <button type="button" className="button button-small" onClick={() => { setConfirming(false); setTyped(""); }}>
                  Cancel
                </button>
              </div>
            </form>
          ) : (
            <button type="button" className="button button-small button-danger" onClick={() => setConfirming(true)}>
              Erase person…
            </button>
          )
        ) : null}
      </div>
    </section>
  );
}

export default function PersonPage() {
  const project = useProject();
  const { id = "" } = useParams();
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const [result, reexecute] = useQuery<{ person: PersonSummary }>({ query: PERSON, variables: { projectId: project.id, id } });
  const person = result.data?.person;
  const traits = Object.entries(person?.traits ?? {});

  return (
    <div className="page">
      <PageHeader
        title={person ? personName(person) : "Person"}
        description={
          <>
            <Link to="/persons">← All persons</Link> · journey in {project.timezone}
          </>
        }
      />
      {result.fetching && !person ? <LoadingState /> : null}
      {result.error ? <ErrorState error={result.error} title="Could not load this person"
        onRetry={() => reexecute({ requestPolicy: "network-only" })} /> : null}
      {person ? (
        <div className="person-layout">
          <aside className="person-side">
            <section className="card person-card" aria-label="Profile">
              <header className="card-header"><h2 className="card-title">Profile</h2>
                {person.isIdentified ? <span className="badge badge-ok">identified</span> : <span className="badge badge-off">anonymous</span>}
              </header>
              <dl className="person-facts">
                <dt>First seen</dt><dd>{formatDateTime(person.firstSeen, project.timezone)}</dd>
                <dt>Last seen</dt><dd>{formatDateTime(person.lastSeen, project.timezone)}</dd>
                {person.id !== id ? <><dt>Merged</dt><dd className="muted">{id} is now this person</dd></> : null}
              </dl>
            </section>
            <section className="card person-card" aria-label="Distinct ids">
              <header className="card-header"><h2 className="card-title">Distinct ids</h2></header>
              <ul className="person-id-list" data-testid="person-distinct-ids">
                {person.distinctIds.map((distinctId) => <li key={distinctId}><code className="person-id-chip">{distinctId}</code></li>)}
              </ul>
            </section>
            <section className="card person-card" aria-label="Traits">
              <header className="card-header"><h2 className="card-title">Traits</h2></header>
              {traits.length === 0 ? <div className="muted person-empty">No traits yet: identify calls set them.</div> : (
                <dl className="person-traits" data-testid="person-traits">
                  {traits.map(([key, value]) => (
                    <div key={key} className="person-trait"><dt>{key}</dt><dd title={traitValue(value)}>{traitValue(value)}</dd></div>
                  ))}
                </dl>
              )}
            </section>
            <PersonalDataCard person={person} />
          </aside>
          <div className="journey" data-testid="journey">
            {pages.map((before, index) => (
              <JourneyChunk key={before ?? "first"} personId={person.id} before={before} last={index === pages.length - 1}
                onMore={(cursor) => setPages([...pages, cursor])} showDistinctId={person.distinctIds.length > 1} />
            ))}
          </div>
        </div>
      ) : null}
    </div>
  );
}
