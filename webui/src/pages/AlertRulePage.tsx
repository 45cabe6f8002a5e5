/**
 * The alert rule editor (/alerts/new, /alerts/:id): the watched series (event, math, filters, one
 * breakdown value), the interval, the detector and its sensitivity, volume, schedule and cooldown,
 * the channels to notify; a backtest chart over a chosen past range, refreshed (debounced) as the
 * settings change; save and delete. A VIEWER sees the rule and its backtest read-only.
 */
import { useEffect, useId, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery } from "urql";
import { PageHeader } from "../components/PageHeader";
import { ErrorState, LoadingState } from "../components/States";
import { useUser } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { useProject } from "../lib/project";
import { formatDateTime, formatRelative, zonedMidnight, type DateRange } from "../lib/time";
import { useClock, useDebounced } from "../lib/timers";
import {
  ALERT_CHANNELS,
  ALERT_HISTORY,
  ALERT_INTERVALS,
  ALERT_RULE,
  BACKTEST,
  CREATE_RULE,
  DEFAULT_LOOKBACK,
  DEFAULT_SENSITIVITY,
  DELETE_RULE,
  DETECTORS,
  draftFromRule,
  formatNumber,
  newDraft,
  pastOrNow,
  onAlertsChanged,
  ruleInput,
  UPDATE_RULE,
  type AlertChannel,
  type AlertInterval,
  type AlertRule,
  type AlertStateChange,
  type BacktestPoint,
  type DetectorKind,
  type Direction,
  type RuleDraft,
} from "./alerts/api";
import { BacktestChart } from "./alerts/BacktestChart";
import { HistoryTable } from "./alerts/HistoryTable";
import { useProjectParam } from "./alerts/useProjectParam";
import { StateBadge } from "./alerts/StateBadge";
import { useDefinitions } from "./insights/definitions";
import { PropertyFilters } from "./insights/PropertyFilters";
import { MATHS, needsProperty, type Math } from "./insights/series";

const BACKTEST_RANGES: Record<AlertInterval, { id: string; label: string; buckets: number }[]> = {
  MINUTE: [
    { id: "3h", label: "Last 3 hours", buckets: 180 },
    { id: "12h", label: "Last 12 hours", buckets: 720 },
    { id: "24h", label: "Last 24 hours", buckets: 1440 },
  ],
  HOUR: [
    { id: "2d", label: "Last 2 days", buckets: 48 },
    { id: "7d", label: "Last 7 days", buckets: 168 },
    { id: "30d", label: "Last 30 days", buckets: 720 },
  ],
  DAY: [
    { id: "30d", label: "Last 30 days", buckets: 30 },
    { id: "90d", label: "Last 90 days", buckets: 90 },
  ],
};

const DEFAULT_BACKTEST: Record<AlertInterval, string> = { MINUTE: "3h", HOUR: "7d", DAY: "30d" };

/** The range of complete buckets ending with the current (partial) one's start. */
function backtestRange(interval: AlertInterval, buckets: number, timeZone: string, now: Date): DateRange {
  let end: Date;
  if (interval === "DAY") end = zonedMidnight(timeZone, 0, now);
  else {
    end = new Date(now);
    end.setUTCSeconds(0, 0);
    if (interval === "HOUR") end.setUTCMinutes(0);
  }
  const size = ALERT_INTERVALS.find((i) => i.id === interval)?.seconds ?? 3600;
  return { from: new Date(end.getTime() - buckets * size * 1000).toISOString(), to: end.toISOString() };
}

function Setting({ label, hint, children }: { label: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <label className="field alerts-setting">
      <span className="field-label">{label}</span>
      {children}
      {hint ? <span className="field-hint">{hint}</span> : null}
    </label>
  );
}

export default function AlertRulePage() {
  const { id } = useParams();
  const switching = useProjectParam();
  const project = useProject();
  const isNew = id === undefined || id === "new";
  const [result, reexecute] = useQuery<{ alertRule: AlertRule }>({ query: ALERT_RULE, variables: { id }, pause: isNew || switching });
  if (switching) return <LoadingState label="Opening the project…" />;
  if (isNew) return <RuleEditor key="new" rule={null} />;
  if (result.error) {
    return (
      <div className="page">
        <PageHeader title="Alert rule" actions={<Link to="/alerts" className="button">All alerts</Link>} />
        <ErrorState error={result.error} title="Could not load this rule" onRetry={() => reexecute({ requestPolicy: "network-only" })} />
      </div>
    );
  }
  const rule = result.data?.alertRule;
  if (!rule) return <LoadingState />;
  if (rule.projectId !== project.id) {
    return (
      <div className="page">
        <PageHeader title={rule.name} actions={<Link to="/alerts" className="button">All alerts</Link>} />
        <ErrorState error={new Error("This rule belongs to another project: select it in the project menu.")} title="Another project" />
      </div>
    );
  }
  return <RuleEditor key={rule.id} rule={rule} onSaved={() => reexecute({ requestPolicy: "network-only" })} />;
}

function RuleEditor({ rule, onSaved }: { rule: AlertRule | null; onSaved?: () => void }) {
  const project = useProject();
  const user = useUser();
  const canManage = user.role !== "VIEWER";
  const navigate = useNavigate();
  const definitions = useDefinitions(project.id);
  const propertyListId = useId();
  const [draft, setDraft] = useState<RuleDraft>(() => (rule ? draftFromRule(rule) : newDraft(null)));
  const [rangeId, setRangeId] = useState<string>(() => DEFAULT_BACKTEST[rule?.interval ?? "HOUR"]);
  const [saved, setSaved] = useState(false);
  const edit = (change: Partial<RuleDraft>) => {
    setSaved(false);
    setDraft((current) => ({ ...current, ...change }));
  };

  // A new rule watches the most frequent event once the definitions arrive.
  useEffect(() => {
    if (!rule && draft.event === null && definitions.events[0] && draft.name === "") {
      setDraft((current) => (current.event === null ? { ...current, event: definitions.events[0] ?? null } : current));
    }
  }, [rule, definitions.events, draft.event, draft.name]);

  const [channels] = useQuery<{ alertChannels: AlertChannel[] }>({ query: ALERT_CHANNELS, variables: { projectId: project.id } });
  const [createResult, create] = useMutation<{ createAlertRule: AlertRule }>(CREATE_RULE);
  const [updateResult, update] = useMutation<{ updateAlertRule: AlertRule }>(UPDATE_RULE);
  const [deleteResult, remove] = useMutation(DELETE_RULE);

  // The backtest follows the settings, once they stop changing for a moment.
  const built = ruleInput(draft);
  const inputJson = "input" in built ? JSON.stringify(built.input) : null;
  const debouncedJson = useDebounced(inputJson, 500);
  const ranges = BACKTEST_RANGES[draft.interval];
  const range = ranges.find((r) => r.id === rangeId) ?? ranges[0]!;
  const clock = useClock(60_000);
  const dateRange = useMemo(
    () => backtestRange(draft.interval, range.buckets, project.timezone, new Date(clock)),
    [draft.interval, range.buckets, project.timezone, clock],
  );
  const backtestVariables = useMemo(
    () => (debouncedJson ? { projectId: project.id, rule: JSON.parse(debouncedJson) as unknown, dateRange } : null),
    [debouncedJson, project.id, dateRange],
  );
  const [backtest, rerunBacktest] = useQuery<{ backtestAlert: { firedAt: string[]; points: BacktestPoint[] } }>({
    query: BACKTEST,
    variables: backtestVariables ?? {},
    pause: backtestVariables === null,
    requestPolicy: "network-only",
  });
  const stale = inputJson !== debouncedJson || backtest.fetching;
  const points = backtest.data?.backtestAlert.points;
  const incidents = backtest.data?.backtestAlert.firedAt.length ?? 0;

  const [history, reloadHistory] = useQuery<{ alertHistory: AlertStateChange[] }>({
    query: ALERT_HISTORY, variables: { projectId: project.id, ruleId: rule?.id ?? null }, pause: !rule,
  });
  useEffect(() => onAlertsChanged(() => {
    reloadHistory({ requestPolicy: "network-only" });
    onSaved?.();
  }), [reloadHistory, onSaved]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!("input" in built)) return;
    if (rule) {
      const done = await update({ id: rule.id, rule: built.input });
      if (done.data) {
        setSaved(true);
        onSaved?.();
      }
    } else {
      const done = await create({ projectId: project.id, rule: built.input });
      if (done.data) navigate(`/alerts/${done.data.createAlertRule.id}`, { replace: true });
    }
  };
  const doDelete = async () => {
    if (!rule || !window.confirm(`Delete “${rule.name}” with its state and history?`)) return;
    const done = await remove({ id: rule.id });
    if (!done.error) navigate("/alerts");
  };

  const numeric = definitions.numericProperties(draft.event);
  const eventOptions = draft.event !== null && !definitions.events.includes(draft.event)
    ? [draft.event, ...definitions.events] : definitions.events;
  const kind = draft.kind;
  const anomaly = kind === "ZSCORE" || kind === "EWMA" || kind === "SEASONAL";
  const saveError = createResult.error ?? updateResult.error ?? deleteResult.error;
  const channelList = channels.data?.alertChannels ?? [];

  return (
    <div className="page" data-range-from={dateRange.from} data-range-to={dateRange.to}>
      <PageHeader
        title={rule ? rule.name : "New alert"}
        description={rule
          ? <>
              <StateBadge state={rule.state} />{" "}
              {rule.lastEvaluatedAt
                ? <span title={formatDateTime(rule.lastEvaluatedAt, project.timezone)}>
                    evaluated {formatRelative(pastOrNow(rule.lastEvaluatedAt))} · last value {formatNumber(rule.lastValue)}
                  </span>
                : "not evaluated yet"}
              {rule.lastError ? <span className="inline-error"> · {rule.lastError}</span> : null}
            </>
          : <>Watch a series of {project.name} and hear about it when it crosses a line or looks unusual.</>}
        actions={
          <>
            <Link to="/alerts" className="button">All alerts</Link>
            {rule && canManage ? (
              <button type="button" className="button button-danger" onClick={() => void doDelete()} disabled={deleteResult.fetching}>
                Delete
              </button>
            ) : null}
          </>
        }
      />

      <form className="card ins-builder alerts-editor" onSubmit={save} aria-label="Alert rule">
        <fieldset disabled={!canManage} className="alerts-fieldset">
          <div className="ins-section">
            <div className="ins-section-title">Name</div>
            <input className="input alerts-name" aria-label="Rule name" placeholder="Signups dropped" value={draft.name}
              maxLength={200} onChange={(e) => edit({ name: e.target.value })} />
          </div>

          <div className="ins-section">
            <div className="ins-section-title">Series</div>
            <div className="ins-series-row">
              <select aria-label="Event" value={draft.event ?? ""} onChange={(e) => edit({ event: e.target.value || null })}>
                <option value="">All events</option>
                {eventOptions.map((name) => <option key={name} value={name}>{name}</option>)}
              </select>
              <select aria-label="Math" value={draft.math} onChange={(e) => {
                const math = e.target.value as Math;
                edit({ math, property: needsProperty(math) ? (draft.property ?? numeric[0] ?? null) : null });
              }}>
                {MATHS.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
              </select>
              {needsProperty(draft.math) ? (
                <>
                  <input className="input" aria-label="Property" placeholder="numeric property" list={propertyListId}
                    value={draft.property ?? ""} aria-invalid={!draft.property}
                    onChange={(e) => edit({ property: e.target.value || null })} />
                  <datalist id={propertyListId}>{numeric.map((name) => <option key={name} value={name} />)}</datalist>
                </>
              ) : null}
              <label className="ins-inline-label">
                per
                <select aria-label="Interval" value={draft.interval} onChange={(e) => {
                  const interval = e.target.value as AlertInterval;
                  edit({ interval });
                  setRangeId(DEFAULT_BACKTEST[interval]);
                }}>
                  {ALERT_INTERVALS.map((i) => <option key={i.id} value={i.id}>{i.label.toLowerCase()}</option>)}
                </select>
              </label>
            </div>
            {canManage || draft.filters.length ? (
              <PropertyFilters filters={draft.filters} propertyKeys={definitions.propertyKeys}
                onChange={(filters) => edit({ filters })} />
            ) : null}
            <div className="alerts-row-fields">
              <Setting label="Only one breakdown value (optional)" hint="e.g. plan = pro; leave the property empty to watch every event.">
                <div className="alerts-inline">
                  <select aria-label="Breakdown property type" value={draft.breakdownType}
                    onChange={(e) => edit({ breakdownType: e.target.value as RuleDraft["breakdownType"] })}>
                    <option value="EVENT">Event property</option>
                    <option value="PERSON">Person property</option>
                  </select>
                  <input className="input" aria-label="Breakdown property" placeholder="property" list={`${propertyListId}-keys`}
                    value={draft.breakdownKey} onChange={(e) => edit({ breakdownKey: e.target.value })} />
                  <datalist id={`${propertyListId}-keys`}>{definitions.propertyKeys.map((k) => <option key={k} value={k} />)}</datalist>
                  <span className="muted">=</span>
                  <input className="input" aria-label="Breakdown value" placeholder="value (empty: without it)"
                    value={draft.breakdownValue} disabled={!draft.breakdownKey.trim()}
                    onChange={(e) => edit({ breakdownValue: e.target.value })} />
                </div>
              </Setting>
            </div>
          </div>

          <div className="ins-section">
            <div className="ins-section-title">Condition</div>
            <div className="ins-seg alerts-detectors" role="group" aria-label="Detector">
              {DETECTORS.map((d) => (
                <button key={d.id} type="button" aria-pressed={kind === d.id} className={kind === d.id ? "active" : undefined}
                  title={d.help}
                  onClick={() => edit({
                    kind: d.id as DetectorKind,
                    direction: d.id === "THRESHOLD" && draft.direction === "BOTH" ? "UP" : d.id !== "THRESHOLD" && kind === "THRESHOLD" ? "BOTH" : draft.direction,
                  })}>
                  {d.label}
                </button>
              ))}
            </div>
            <p className="muted alerts-help">{DETECTORS.find((d) => d.id === kind)?.help}</p>
            <div className="alerts-row-fields">
              <Setting label="Fires when the value is">
                <select aria-label="Direction" value={draft.direction} onChange={(e) => edit({ direction: e.target.value as Direction })}>
                  <option value="UP">{kind === "THRESHOLD" ? "above" : "higher than expected"}</option>
                  <option value="DOWN">{kind === "THRESHOLD" ? "below" : "lower than expected"}</option>
                  {kind === "THRESHOLD" ? null : <option value="BOTH">either</option>}
                </select>
              </Setting>
              {kind === "THRESHOLD" ? (
                <Setting label="Threshold">
                  <input className="input" aria-label="Threshold" inputMode="decimal" value={draft.threshold} placeholder="e.g. 100"
                    onChange={(e) => edit({ threshold: e.target.value })} />
                </Setting>
              ) : null}
              {kind === "RELATIVE" ? (
                <>
                  <Setting label="Change" hint="A fraction: 0.5 fires at ±50 %.">
                    <input className="input" aria-label="Change" inputMode="decimal" value={draft.change}
                      onChange={(e) => edit({ change: e.target.value })} />
                  </Setting>
                  <Setting label="Window (buckets)" hint="The last N buckets against the N before.">
                    <input className="input" aria-label="Window" inputMode="numeric" value={draft.window}
                      onChange={(e) => edit({ window: e.target.value })} />
                  </Setting>
                </>
              ) : null}
              {anomaly ? (
                <Setting label="Sensitivity (deviations)" hint={`Default ${DEFAULT_SENSITIVITY[kind]}; lower fires more often.`}>
                  <input className="input" aria-label="Sensitivity" inputMode="decimal" value={draft.sensitivity}
                    placeholder={String(DEFAULT_SENSITIVITY[kind])} onChange={(e) => edit({ sensitivity: e.target.value })} />
                </Setting>
              ) : null}
              {kind === "ZSCORE" || kind === "EWMA" ? (
                <Setting label="Lookback (buckets)" hint={`Default ${DEFAULT_LOOKBACK[kind]}.`}>
                  <input className="input" aria-label="Lookback" inputMode="numeric" value={draft.lookback}
                    placeholder={String(DEFAULT_LOOKBACK[kind])} onChange={(e) => edit({ lookback: e.target.value })} />
                </Setting>
              ) : null}
              {kind === "EWMA" ? (
                <Setting label="Alpha" hint="Weight of the newest bucket (0–1).">
                  <input className="input" aria-label="Alpha" inputMode="decimal" value={draft.alpha}
                    onChange={(e) => edit({ alpha: e.target.value })} />
                </Setting>
              ) : null}
              {kind === "SEASONAL" ? (
                <Setting label="Weeks of history" hint="The same hour of the week, median of these weeks.">
                  <input className="input" aria-label="Weeks" inputMode="numeric" value={draft.weeks}
                    onChange={(e) => edit({ weeks: e.target.value })} />
                </Setting>
              ) : null}
              {kind !== "THRESHOLD" ? (
                <Setting label="Minimum volume" hint="Quiet series (below this) never fire.">
                  <input className="input" aria-label="Minimum volume" inputMode="decimal" value={draft.minVolume}
                    onChange={(e) => edit({ minVolume: e.target.value })} />
                </Setting>
              ) : null}
            </div>
          </div>

          <div className="ins-section">
            <div className="ins-section-title">Schedule</div>
            <div className="alerts-row-fields">
              <Setting label="Evaluate every (seconds)" hint="10 to 86400.">
                <input className="input" aria-label="Evaluate every" inputMode="numeric" value={draft.evaluateEverySeconds}
                  onChange={(e) => edit({ evaluateEverySeconds: e.target.value })} />
              </Setting>
              <Setting label="Cooldown (minutes)" hint="Clear this long before it resolves: flapping stays one incident.">
                <input className="input" aria-label="Cooldown" inputMode="decimal" value={draft.cooldownMinutes}
                  onChange={(e) => edit({ cooldownMinutes: e.target.value })} />
              </Setting>
              <label className="checkbox alerts-enabled">
                <input type="checkbox" checked={draft.enabled} onChange={(e) => edit({ enabled: e.target.checked })} />
                Enabled
              </label>
            </div>
          </div>

          <div className="ins-section">
            <div className="ins-section-title">Notify</div>
            <div className="alerts-channels" role="group" aria-label="Channels">
              <label className="checkbox"><input type="checkbox" checked disabled /> In-app (always)</label>
              {channelList.map((channel) => (
                <label className="checkbox" key={channel.id}>
                  <input type="checkbox" checked={draft.channelIds.includes(channel.id)}
                    onChange={(e) => edit({
                      channelIds: e.target.checked
                        ? [...draft.channelIds, channel.id]
                        : draft.channelIds.filter((c) => c !== channel.id),
                    })} />
                  {channel.name} <span className="muted">({channel.kind.toLowerCase()})</span>
                </label>
              ))}
              {channels.data && channelList.length === 0 ? (
                <span className="muted">No channels yet: <Link to="/alerts/channels">add email, Slack or a webhook</Link>.</span>
              ) : null}
            </div>
          </div>
        </fieldset>

        {"problem" in built ? <div className="alert alert-info" role="status">{built.problem}</div> : null}
        {saveError ? <div className="alert alert-error" role="alert">{errorMessage(saveError)}</div> : null}
        {canManage ? (
          <div className="ins-toolbar">
            <button type="submit" className="button button-primary" disabled={"problem" in built || createResult.fetching || updateResult.fetching}>
              {rule ? (updateResult.fetching ? "Saving…" : "Save changes") : createResult.fetching ? "Creating…" : "Create alert"}
            </button>
            {saved ? <span className="settings-saved" role="status">Saved</span> : null}
          </div>
        ) : (
          <p className="muted">Your role may read this rule; an admin or developer can change it.</p>
        )}
      </form>

      <div className="alerts-backtest-bar">
        <label className="ins-inline-label">
          Backtest over
          <select aria-label="Backtest range" value={range.id} onChange={(e) => setRangeId(e.target.value)}>
            {ranges.map((r) => <option key={r.id} value={r.id}>{r.label}</option>)}
          </select>
        </label>
        <span className="muted" data-testid="backtest-summary">
          {"problem" in built
            ? "Complete the settings to see when it would have fired."
            : points
              ? `${incidents} incident${incidents === 1 ? "" : "s"} would have opened · ${points.filter((p) => p.firing).length} of ${points.length} buckets firing`
              : "Judging past data…"}
        </span>
      </div>
      <BacktestChart points={points} variables={backtestVariables} interval={draft.interval} timeZone={project.timezone}
        loading={backtestVariables !== null && backtest.fetching} error={backtest.error}
        onRetry={() => rerunBacktest({ requestPolicy: "network-only" })}
        badge={stale && points ? <span className="badge badge-off">updating…</span> : null} />

      {rule ? (
        <section className="card table-card" aria-label="Rule history">
          <header className="card-header"><h2 className="card-title">History of this rule</h2></header>
          <HistoryTable result={history} timezone={project.timezone} showRule={false}
            onRetry={() => reloadHistory({ requestPolicy: "network-only" })} />
        </section>
      ) : null}
    </div>
  );
}
