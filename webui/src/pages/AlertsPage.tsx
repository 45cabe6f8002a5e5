/**
 * Alerts: the project's rules with their state, the in-app notices (read/unread, mark all read),
 * the history of state changes (all rules or one) and the deliveries that failed. Everything
 * reloads when an alert fires (the alertFired push, via the navigation badge) and every 30 s.
 * VIEWERs read it all; creating and editing rules is for ADMIN and DEVELOPER.
 */
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router";
import { gql, useMutation, useQuery } from "urql";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { useUser } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { useProject } from "../lib/project";
import { formatDateTime, formatRelative } from "../lib/time";
import {
  ALERT_EVENTS,
  ALERT_HISTORY,
  ALERT_RULES,
  detectorSummary,
  FAILED_DELIVERIES,
  formatNumber,
  MARK_READ,
  notifyAlertsChanged,
  onAlertsChanged,
  pastOrNow,
  seriesSummary,
  type AlertDelivery,
  type AlertEvent,
  type AlertRule,
  type AlertStateChange,
} from "./alerts/api";
import { HistoryTable } from "./alerts/HistoryTable";
import { StateBadge } from "./alerts/StateBadge";
import { useProjectParam } from "./alerts/useProjectParam";

/** Reload a query when the feed changes and every `everyMs`. */
function useRefresh(reexecute: (opts: { requestPolicy: "network-only" }) => void, everyMs = 30_000) {
  const latest = useRef(reexecute);
  latest.current = reexecute;
  useEffect(() => {
    const reload = () => latest.current({ requestPolicy: "network-only" });
    const timer = setInterval(reload, everyMs);
    const stop = onAlertsChanged(reload);
    return () => {
      clearInterval(timer);
      stop();
    };
  }, [everyMs]);
}

function RulesCard({ projectId, timezone, canManage }: { projectId: string; timezone: string; canManage: boolean }) {
  const [result, reexecute] = useQuery<{ alertRules: AlertRule[] }>({ query: ALERT_RULES, variables: { projectId } });
  useRefresh(reexecute);
  const navigate = useNavigate();
  const rules = result.data?.alertRules ?? [];
  const now = new Date();
  return (
    <section className="card table-card" aria-label="Alert rules">
      <header className="card-header">
        <h2 className="card-title">Rules</h2>
        {rules.length ? <span className="muted">{rules.filter((r) => r.state === "FIRING").length} firing of {rules.length}</span> : null}
      </header>
      {result.fetching && !result.data ? <LoadingState compact /> : null}
      {result.error ? <ErrorState error={result.error} compact onRetry={() => reexecute({ requestPolicy: "network-only" })} /> : null}
      {result.data && rules.length === 0 ? (
        <EmptyState title="No alert rules yet" compact>
          {canManage
            ? <>Rules watch a series and tell you when it crosses a threshold or looks unusual. <Link to="/alerts/new">Create the first one</Link>.</>
            : "An admin or developer can create rules; they will show here with their state."}
        </EmptyState>
      ) : null}
      {rules.length > 0 ? (
        <table className="table alerts-rules" aria-label="Alert rules">
          <thead>
            <tr><th>Rule</th><th>State</th><th>Series</th><th>Detector</th><th className="numeric">Last value</th><th>Last evaluated</th></tr>
          </thead>
          <tbody>
            {rules.map((rule) => (
              <tr key={rule.id} data-rule-id={rule.id} className={`alerts-row${rule.enabled ? "" : " row-muted"}`}
                onClick={() => navigate(`/alerts/${rule.id}`)}>
                <td>
                  <Link to={`/alerts/${rule.id}`} onClick={(e) => e.stopPropagation()}><strong>{rule.name}</strong></Link>
                  {rule.enabled ? null : <span className="badge badge-off alerts-inline-badge">paused</span>}
                  {rule.lastError ? <div className="inline-error" title={rule.lastError}>{rule.lastError}</div> : null}
                </td>
                <td><StateBadge state={rule.state} /></td>
                <td>{seriesSummary(rule.series)} <span className="muted">per {rule.interval.toLowerCase()}</span></td>
                <td>{detectorSummary(rule.detector)}</td>
                <td className="numeric">{formatNumber(rule.lastValue)}</td>
                <td title={rule.lastEvaluatedAt ? formatDateTime(rule.lastEvaluatedAt, timezone) : undefined}>
                  {rule.lastEvaluatedAt ? formatRelative(pastOrNow(rule.lastEvaluatedAt), now) : <span className="muted">not yet</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function FeedCard({ projectId, timezone }: { projectId: string; timezone: string }) {
  const [result, reexecute] = useQuery<{ alertEvents: AlertEvent[] }>({ query: ALERT_EVENTS, variables: { projectId } });
  useRefresh(reexecute);
  const [marking, mark] = useMutation<{ markAlertEventsRead: number }>(MARK_READ);
  const events = result.data?.alertEvents ?? [];
  const unread = events.filter((e) => !e.read).length;
  const markRead = async (ids: string[] | null) => {
    const done = await mark({ projectId, ids });
    if (!done.error) notifyAlertsChanged();
  };
  return (
    <section className="card alerts-feed" aria-label="Notifications">
      <header className="card-header">
        <h2 className="card-title">
          Notifications
          {unread ? <span className="badge badge-danger" data-testid="feed-unread">{unread} unread</span> : null}
        </h2>
        <div className="card-actions">
          <button type="button" className="button button-small" disabled={unread === 0 || marking.fetching}
            onClick={() => void markRead(null)}>
            Mark all read
          </button>
        </div>
      </header>
      {marking.error ? <div className="alert alert-error" role="alert">{errorMessage(marking.error)}</div> : null}
      {result.fetching && !result.data ? <LoadingState compact /> : null}
      {result.error ? <ErrorState error={result.error} compact onRetry={() => reexecute({ requestPolicy: "network-only" })} /> : null}
      {result.data && events.length === 0 ? (
        <EmptyState title="No notices yet" compact>Alerts that fire or resolve show here, and in the badge beside Alerts.</EmptyState>
      ) : null}
      {events.length > 0 ? (
        <ul className="alerts-feed-list" aria-label="Alert notices">
          {events.map((event) => (
            <li key={event.id} className={`alerts-notice${event.read ? "" : " alerts-notice-unread"}`}
              data-testid="alert-notice" data-kind={event.kind} data-read={event.read}>
              <span className={`alerts-notice-dot alerts-dot-${event.kind}`} aria-hidden="true" />
              <div className="alerts-notice-body">
                <div className="alerts-notice-title">
                  <span className={`badge badge-${event.kind === "fired" ? "danger" : event.kind === "resolved" ? "accent" : "off"}`}>
                    {event.kind}
                  </span>
                  {event.ruleId ? <Link to={`/alerts/${event.ruleId}`}>{event.ruleName}</Link> : <strong>{event.ruleName}</strong>}
                  {event.read ? null : <span className="visually-hidden">unread</span>}
                </div>
                <div className="alerts-notice-message">{event.message}</div>
                <div className="muted alerts-notice-time" title={formatDateTime(event.createdAt, timezone)}>
                  {formatDateTime(event.createdAt, timezone)}
                </div>
              </div>
              {event.read ? null : (
                <button type="button" className="button button-ghost button-small" aria-label={`Mark ${event.ruleName} notice read`}
                  onClick={() => void markRead([event.id])}>
                  Mark read
                </button>
              )}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

function FailuresCard({ projectId, timezone }: { projectId: string; timezone: string }) {
  const [result, reexecute] = useQuery<{ alertDeliveries: AlertDelivery[] }>({ query: FAILED_DELIVERIES, variables: { projectId } });
  useRefresh(reexecute);
  const failures = result.data?.alertDeliveries ?? [];
  return (
    <section className="card table-card" aria-label="Delivery failures">
      <header className="card-header">
        <h2 className="card-title">Recent delivery failures</h2>
        <Link to="/alerts/channels" className="muted">Channels</Link>
      </header>
      {result.fetching && !result.data ? <LoadingState compact /> : null}
      {result.error ? <ErrorState error={result.error} compact onRetry={() => reexecute({ requestPolicy: "network-only" })} /> : null}
      {result.data && failures.length === 0 ? (
        <EmptyState title="Every notice was delivered" compact>Email, Slack and webhook sends that fail show here with their error.</EmptyState>
      ) : null}
      {failures.length > 0 ? (
        <table className="table" aria-label="Failed deliveries">
          <thead><tr><th>Channel</th><th>Notice</th><th>Status</th><th>Error</th><th>When</th></tr></thead>
          <tbody>
            {failures.map((d) => (
              <tr key={d.id}>
                <td><strong>{d.channelName ?? "(deleted)"}</strong><div className="muted">{d.channelKind}</div></td>
                <td>{d.ruleName}<div className="muted">{d.eventKind}</div></td>
                <td><span className={`badge badge-${d.status === "failed" ? "danger" : "warn"}`}>{d.status}</span>
                  <div className="muted">{d.attempts} attempt{d.attempts === 1 ? "" : "s"}</div></td>
                <td className="alerts-error-cell">{d.lastError ?? "–"}</td>
                <td className="nowrap">{formatDateTime(d.createdAt, timezone)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

const RULE_NAMES = gql`query AlertRuleNames($projectId: ID!) { alertRules(projectId: $projectId) { id name } }`;

function HistoryCard({ projectId, timezone }: { projectId: string; timezone: string }) {
  const [ruleId, setRuleId] = useState("");
  const [names] = useQuery<{ alertRules: { id: string; name: string }[] }>({ query: RULE_NAMES, variables: { projectId } });
  const [result, reexecute] = useQuery<{ alertHistory: AlertStateChange[] }>({
    query: ALERT_HISTORY, variables: { projectId, ruleId: ruleId || null },
  });
  useRefresh(reexecute);
  return (
    <section className="card table-card" aria-label="Alert history">
      <header className="card-header">
        <h2 className="card-title">History</h2>
        <select aria-label="History of rule" value={ruleId} onChange={(e) => setRuleId(e.target.value)}>
          <option value="">All rules</option>
          {(names.data?.alertRules ?? []).map((rule) => <option key={rule.id} value={rule.id}>{rule.name}</option>)}
        </select>
      </header>
      <HistoryTable result={result} timezone={timezone} showRule={!ruleId}
        onRetry={() => reexecute({ requestPolicy: "network-only" })} />
    </section>
  );
}

export default function AlertsPage() {
  const switching = useProjectParam();
  const project = useProject();
  const user = useUser();
  const canManage = user.role !== "VIEWER";
  if (switching) return <LoadingState label="Opening the project…" />;
  return (
    <div className="page">
      <PageHeader
        title="Alerts"
        description={<>Rules watching {project.name} · times in {project.timezone}</>}
        actions={
          <>
            <Link to="/alerts/channels" className="button">Notification channels</Link>
            {canManage ? <Link to="/alerts/new" className="button button-primary">New alert</Link> : null}
          </>
        }
      />
      <RulesCard projectId={project.id} timezone={project.timezone} canManage={canManage} />
      <div className="grid-2 alerts-grid">
        <FeedCard projectId={project.id} timezone={project.timezone} />
        <FailuresCard projectId={project.id} timezone={project.timezone} />
      </div>
      <HistoryCard projectId={project.id} timezone={project.timezone} />
    </div>
  );
}
