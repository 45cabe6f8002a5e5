/**
 * Sessions: how visits look (count, duration, bounce rate, pages per session), over time, split by
 * one session dimension, and where they enter and leave. Two live queries: the totals (which need
 * every session read for persons and the median) and the rest (summed from hourly rollups).
 */
import { useMemo, useState, type FormEvent } from "react";
import { Chart } from "../components/Chart";
import { CsvButton } from "../components/CsvButton";
import { DateRangePicker } from "../components/DateRangePicker";
import { KpiCard } from "../components/KpiCard";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import type { ChartOption } from "../lib/echarts";
import type { CsvExport } from "../lib/exports";
import { formatCount, formatDuration, formatPercent } from "../lib/format";
import { useLiveQuery } from "../lib/live";
import { useProject } from "../lib/project";
import { cssVar } from "../lib/theme";
import { formatBucket, formatDateTime, presetById, type Interval } from "../lib/time";
import { useUrlParams } from "./insights/useUrlParams";
import { gql, type CombinedError } from "urql";

type Dimension =
  | "BROWSER" | "DEVICE_TYPE" | "OS" | "COUNTRY" | "REGION" | "CITY" | "REFERRER_CHANNEL" | "REFERRER_DOMAIN"
  | "UTM_SOURCE" | "UTM_MEDIUM" | "UTM_CAMPAIGN" | "UTM_TERM" | "UTM_CONTENT" | "ENTRY_PAGE" | "EXIT_PAGE";

const DIMENSIONS: { id: Dimension; label: string }[] = [
  { id: "BROWSER", label: "Browser" },
  { id: "DEVICE_TYPE", label: "Device" },
  { id: "OS", label: "OS" },
  { id: "COUNTRY", label: "Country" },
  { id: "REGION", label: "Region" },
  { id: "CITY", label: "City" },
  { id: "REFERRER_CHANNEL", label: "Referrer channel" },
  { id: "REFERRER_DOMAIN", label: "Referrer domain" },
  { id: "UTM_SOURCE", label: "utm_source" },
  { id: "UTM_MEDIUM", label: "utm_medium" },
  { id: "UTM_CAMPAIGN", label: "utm_campaign" },
  { id: "UTM_TERM", label: "utm_term" },
  { id: "UTM_CONTENT", label: "utm_content" },
  { id: "ENTRY_PAGE", label: "Entry page" },
  { id: "EXIT_PAGE", label: "Exit page" },
];

type Operator = "EQ" | "NEQ" | "CONTAINS" | "NOT_CONTAINS" | "IS_SET" | "IS_NOT_SET";

const OPERATORS: { id: Operator; label: string; needsValue: boolean }[] = [
  { id: "EQ", label: "is", needsValue: true },
  { id: "NEQ", label: "is not", needsValue: true },
  { id: "CONTAINS", label: "contains", needsValue: true },
  { id: "NOT_CONTAINS", label: "does not contain", needsValue: true },
  { id: "IS_SET", label: "is set", needsValue: false },
  { id: "IS_NOT_SET", label: "is not set", needsValue: false },
];

interface SessionFilter {
  dimension: Dimension;
  operator: Operator;
  values: string[];
}

interface Totals {
  sessions: number;
  persons: number;
  avgDurationSeconds: number | null;
  medianDurationSeconds: number | null;
  bounceRate: number | null;
  pageviewsPerSession: number | null;
  eventsPerSession: number | null;
}

/** What the rollups can sum: everything but persons and the median. */
interface Stats {
  sessions: number;
  avgDurationSeconds: number | null;
  bounceRate: number | null;
  pageviewsPerSession: number | null;
}

interface Details {
  breakdown: { value: string | null; isOther: boolean; stats: Stats }[];
  series: { bucket: string; stats: Stats }[];
  entryPages: { page: string; stats: Stats }[];
  exitPages: { page: string; stats: Stats }[];
}

const TOTALS_ARGS = "$projectId: ID!, $dateRange: DateRangeInput!, $filters: [SessionFilterInput!]";
const TOTALS_CALL = "projectId: $projectId, dateRange: $dateRange, filters: $filters";
const TOTALS_FIELDS =
  "totals { sessions persons avgDurationSeconds medianDurationSeconds bounceRate pageviewsPerSession eventsPerSession }";
const TOTALS = gql`query SessionsTotals(${TOTALS_ARGS}) { sessionsSummary(${TOTALS_CALL}) { ${TOTALS_FIELDS} } }`;
const LIVE_TOTALS = gql`subscription SessionsLiveTotals(${TOTALS_ARGS}) { liveSessions(${TOTALS_CALL}) { ${TOTALS_FIELDS} } }`;

const DETAIL_ARGS = `${TOTALS_ARGS}, $breakdown: SessionDimension!, $breakdownLimit: Int!, $interval: Interval!,
  $pagesLimit: Int!`;
const DETAIL_CALL = `${TOTALS_CALL}, breakdown: $breakdown, breakdownLimit: $breakdownLimit, interval: $interval,
  pagesLimit: $pagesLimit`;
/** Rows of the breakdown and of each page table. */
const DETAIL_LIMIT = 10;
const STATS = "stats { sessions avgDurationSeconds bounceRate pageviewsPerSession }";
const DETAIL_FIELDS = `breakdown { value isOther ${STATS} } series { bucket ${STATS} }
  entryPages { page ${STATS} } exitPages { page ${STATS} }`;
const DETAILS = gql`query SessionsDetails(${DETAIL_ARGS}) { sessionsSummary(${DETAIL_CALL}) { ${DETAIL_FIELDS} } }`;
const LIVE_DETAILS = gql`subscription SessionsLiveDetails(${DETAIL_ARGS}) { liveSessions(${DETAIL_CALL}) { ${DETAIL_FIELDS} } }`;

function seriesOption(series: Details["series"], interval: Interval, timeZone: string): ChartOption {
  const accent = cssVar("--chart-1");
  return {
    tooltip: { trigger: "axis" },
    xAxis: {
      type: "category",
      boundaryGap: series.length < 40,
      data: series.map((b) => formatBucket(b.bucket, interval, timeZone)),
      splitLine: { show: false },
    },
    yAxis: [
      { type: "value", minInterval: 1 },
      { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" }, splitLine: { show: false } },
    ],
    series: [
      {
        name: "Sessions",
        type: series.length <= 31 ? "bar" : "line",
        data: series.map((b) => b.stats.sessions),
        barMaxWidth: 28,
        itemStyle: { borderRadius: [3, 3, 0, 0] },
        showSymbol: false,
        areaStyle: series.length > 31 ? { opacity: 0.12, color: accent } : undefined,
        tooltip: { valueFormatter: (value: unknown) => formatCount(Number(value)) },
      },
      {
        name: "Bounce rate",
        type: "line",
        yAxisIndex: 1,
        data: series.map((b) => (b.stats.bounceRate === null ? null : Number((b.stats.bounceRate * 100).toFixed(1)))),
        showSymbol: series.length <= 31,
        symbolSize: 5,
        connectNulls: false,
        lineStyle: { width: 2 },
        tooltip: { valueFormatter: (value: unknown) => (value === null || value === undefined ? "–" : `${String(value)}%`) },
      },
    ],
  };
}

function dimensionLabel(id: Dimension): string {
  return DIMENSIONS.find((d) => d.id === id)?.label ?? id;
}

function describe(filter: SessionFilter): string {
  const operator = OPERATORS.find((o) => o.id === filter.operator)!;
  return `${dimensionLabel(filter.dimension)} ${operator.label}${operator.needsValue ? ` “${filter.values[0] ?? ""}”` : ""}`;
}

function isSessionFilter(value: unknown): value is SessionFilter {
  if (typeof value !== "object" || value === null) return false;
  const f = value as Record<string, unknown>;
  return DIMENSIONS.some((d) => d.id === f["dimension"]) && OPERATORS.some((o) => o.id === f["operator"])
    && Array.isArray(f["values"]) && f["values"].every((v) => typeof v === "string");
}

function parseFilters(text: string | null): SessionFilter[] {
  if (!text) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    // The URL is anyone's to edit: keep only well-formed filters, so a bad link cannot break the screen.
    return Array.isArray(parsed) ? parsed.filter(isSessionFilter) : [];
  } catch {
    return [];
  }
}

/** A table of session groups (breakdown values or pages) with their statistics; its CSV is the sessions export. */
function StatsTable<Row extends { stats: Stats }>({
  title,
  valueLabel,
  rows,
  csv,
  label,
  rowKey,
  loading,
  error,
  onRetry,
  onPick,
  testId,
}: {
  title: string;
  valueLabel: string;
  rows: Row[];
  csv: CsvExport;
  label: (row: Row) => string;
  rowKey: (row: Row) => string;
  loading: boolean;
  error: CombinedError | undefined;
  onRetry: () => void;
  onPick?: (row: Row) => void;
  testId: string;
}) {
  const max = Math.max(1, ...rows.map((row) => row.stats.sessions));
  return (
    <section className="card toplist sessions-table" aria-label={title} data-testid={testId}>
      <header className="card-header">
        <h2 className="card-title">{title}</h2>
        <div className="card-actions">
          <CsvButton csv={csv} disabled={rows.length === 0}
            title="Download the sessions summary (totals, over time, breakdown, entry and exit pages) as CSV" />
        </div>
      </header>
      {loading && rows.length === 0 ? <LoadingState compact /> : null}
      {error ? <ErrorState error={error} onRetry={onRetry} compact /> : null}
      {!loading && !error && rows.length === 0 ? <EmptyState title="No sessions" compact /> : null}
      {rows.length > 0 ? (
        <table className="toplist-table">
          <thead>
            <tr>
              <th>{valueLabel}</th>
              <th className="numeric">Sessions</th>
              <th className="numeric">Avg duration</th>
              <th className="numeric">Bounce</th>
              <th className="numeric">Pages</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={rowKey(row)} data-value={label(row)} data-sessions={row.stats.sessions}>
                <td className="toplist-value">
                  <span className="toplist-bar" style={{ width: `${(row.stats.sessions / max) * 100}%` }} />
                  {onPick ? (
                    <button type="button" className="toplist-label sessions-pick" title={`Only sessions where ${valueLabel} is ${label(row)}`}
                      onClick={() => onPick(row)}>{label(row)}</button>
                  ) : <span className="toplist-label" title={label(row)}>{label(row)}</span>}
                </td>
                <td className="numeric" data-stat="sessions">{formatCount(row.stats.sessions)}</td>
                <td className="numeric" data-stat="avgDuration">{formatDuration(row.stats.avgDurationSeconds)}</td>
                <td className="numeric" data-stat="bounceRate">{formatPercent(row.stats.bounceRate)}</td>
                <td className="numeric" data-stat="pageviews">
                  {row.stats.pageviewsPerSession === null ? "–" : row.stats.pageviewsPerSession.toFixed(1)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

export default function SessionsPage() {
  const project = useProject();
  const { search, update: updateUrl } = useUrlParams();
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const preset = presetById(params.get("range") ?? "7d");
  const breakdown = (DIMENSIONS.find((d) => d.id === params.get("by"))?.id ?? "BROWSER") as Dimension;
  const filterParam = params.get("filters");
  const filters = useMemo(() => parseFilters(filterParam), [filterParam]);
  const [draft, setDraft] = useState<SessionFilter>({ dimension: "COUNTRY", operator: "EQ", values: [""] });

  const update = (changes: Record<string, string | null>) =>
    updateUrl((next) => {
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) next.delete(key);
        else next.set(key, value);
      }
    });
  const setFilters = (list: SessionFilter[]) => update({ filters: list.length ? JSON.stringify(list) : null });
  const addFilter = (event: FormEvent) => {
    event.preventDefault();
    const operator = OPERATORS.find((o) => o.id === draft.operator)!;
    const value = (draft.values[0] ?? "").trim();
    if (operator.needsValue && !value) return;
    setFilters([...filters, { ...draft, values: operator.needsValue ? [value] : [] }]);
    setDraft({ ...draft, values: [""] });
  };

  // The range is fixed when the screen opens (or the preset changes); subscriptions keep it current.
  const dateRange = useMemo(() => preset.range(project.timezone), [preset, project.timezone]);
  const totalsVars = useMemo(
    () => ({ projectId: project.id, dateRange, filters: filters.length ? filters : null }),
    [project.id, dateRange, filters],
  );
  const detailVars = useMemo(
    () => ({ ...totalsVars, breakdown, breakdownLimit: DETAIL_LIMIT, interval: preset.interval, pagesLimit: DETAIL_LIMIT }),
    [totalsVars, breakdown, preset.interval],
  );
  // The chart and the three tables show parts of one sessionsSummary answer: each downloads all of it.
  const csv = useMemo<CsvExport>(() => ({ name: "sessions", variables: detailVars }), [detailVars]);

  const totals = useLiveQuery<Totals, { sessionsSummary: { totals: Totals } }, { liveSessions: { totals: Totals } }>({
    query: TOTALS, subscription: LIVE_TOTALS, variables: totalsVars,
    fromQuery: (d) => d.sessionsSummary.totals, fromSubscription: (d) => d.liveSessions.totals,
  });
  const details = useLiveQuery<Details, { sessionsSummary: Details }, { liveSessions: Details }>({
    query: DETAILS, subscription: LIVE_DETAILS, variables: detailVars,
    fromQuery: (d) => d.sessionsSummary, fromSubscription: (d) => d.liveSessions,
  });

  const series = useMemo(() => details.data?.series ?? [], [details.data]);
  const option = useMemo(() => seriesOption(series, preset.interval, project.timezone), [series, preset.interval, project.timezone]);
  const seriesTable = useMemo(
    () => ({
      header: ["bucket", "sessions", "bounce_rate", "avg_duration_seconds"],
      rows: series.map((b) => [b.bucket, b.stats.sessions, b.stats.bounceRate, b.stats.avgDurationSeconds]),
    }),
    [series],
  );
  const breakdownLabel = dimensionLabel(breakdown);
  const t = totals.data;
  const kpiLoading = !t && !totals.error;
  const liveBadge = details.live ? (
    <span className="badge badge-live" title={`Updated live · ${formatDateTime(new Date(), project.timezone)}`}>live</span>
  ) : null;
  const pickBreakdown = (row: Details["breakdown"][number]) => {
    if (row.isOther) return;
    setFilters([
      ...filters,
      row.value === null
        ? { dimension: breakdown, operator: "IS_NOT_SET", values: [] }
        : { dimension: breakdown, operator: "EQ", values: [row.value] },
    ]);
  };
  const draftOperator = OPERATORS.find((o) => o.id === draft.operator)!;

  return (
    <div className="page">
      <PageHeader
        title="Sessions"
        description={<>Visits to {project.name}, by when they started · times in {project.timezone}</>}
        actions={<DateRangePicker value={preset.id} onChange={(id) => update({ range: id })} />}
      />
      <form className="card filters" onSubmit={addFilter} aria-label="Session filters">
        <label className="field">
          <span className="field-label">Filter on</span>
          <select aria-label="Filter dimension" value={draft.dimension}
            onChange={(e) => setDraft({ ...draft, dimension: e.target.value as Dimension })}>
            {DIMENSIONS.map((d) => <option key={d.id} value={d.id}>{d.label}</option>)}
          </select>
        </label>
        <label className="field">
          <span className="field-label">Condition</span>
          <select aria-label="Filter condition" value={draft.operator}
            onChange={(e) => setDraft({ ...draft, operator: e.target.value as Operator })}>
            {OPERATORS.map((o) => <option key={o.id} value={o.id}>{o.label}</option>)}
          </select>
        </label>
        <label className="field grow">
          <span className="field-label">Value</span>
          <input className="input" aria-label="Filter value" disabled={!draftOperator.needsValue} value={draft.values[0] ?? ""}
            placeholder={draftOperator.needsValue ? "Chrome, DE, /pricing, …" : "no value needed"}
            onChange={(e) => setDraft({ ...draft, values: [e.target.value] })} />
        </label>
        <button type="submit" className="button">Add filter</button>
        {filters.length > 0 ? (
          <div className="sessions-filter-chips" aria-label="Active filters">
            {filters.map((filter, index) => (
              <span key={index} className="sessions-chip" data-testid="session-filter">
                {describe(filter)}
                <button type="button" className="sessions-chip-remove" aria-label={`Remove filter ${describe(filter)}`}
                  onClick={() => setFilters(filters.filter((_, i) => i !== index))}>×</button>
              </span>
            ))}
            <button type="button" className="button button-ghost button-small" onClick={() => setFilters([])}>Clear all</button>
          </div>
        ) : null}
      </form>

      {totals.error ? <ErrorState error={totals.error} onRetry={totals.retry} title="Could not load the sessions" /> : null}
      <div className="kpis" data-from={dateRange.from} data-to={dateRange.to} data-testid="sessions-kpis">
        <KpiCard testId="kpi-sessions" label="Sessions" live={totals.live} loading={kpiLoading}
          value={formatCount(t?.sessions)} note={t ? `${formatCount(t.persons)} ${t.persons === 1 ? "person" : "persons"}` : preset.label} />
        <KpiCard testId="kpi-avg-duration" label="Avg duration" live={totals.live} loading={kpiLoading}
          value={formatDuration(t?.avgDurationSeconds)} note="first to last event" />
        <KpiCard testId="kpi-median-duration" label="Median duration" live={totals.live} loading={kpiLoading}
          value={formatDuration(t?.medianDurationSeconds)} note="half the sessions are shorter" />
        <KpiCard testId="kpi-bounce" label="Bounce rate" live={totals.live} loading={kpiLoading}
          value={formatPercent(t?.bounceRate)} note="one-event sessions" />
        <KpiCard testId="kpi-pages" label="Pages / session" live={totals.live} loading={kpiLoading}
          value={t?.pageviewsPerSession == null ? "–" : t.pageviewsPerSession.toFixed(1)}
          note={t?.eventsPerSession == null ? "page and screen views" : `${t.eventsPerSession.toFixed(1)} events / session`} />
      </div>

      <Chart
        title="Sessions over time"
        option={option}
        table={seriesTable}
        csv={csv}
        height={260}
        loading={details.fetching}
        error={details.error}
        onRetry={details.retry}
        empty={series.every((b) => b.stats.sessions === 0)}
        emptyMessage="Sessions appear here as events arrive."
        badge={liveBadge}
      />

      <div className="sessions-breakdown-header">
        <label className="select-inline">
          <span className="field-label">Break down by</span>{" "}
          <select aria-label="Break down by" value={breakdown} onChange={(e) => update({ by: e.target.value })}>
            {DIMENSIONS.map((d) => <option key={d.id} value={d.id}>{d.label}</option>)}
          </select>
        </label>
        <span className="muted">Click a value to keep only its sessions.</span>
      </div>
      <StatsTable
        title={`Sessions by ${breakdownLabel}`}
        valueLabel={breakdownLabel}
        rows={details.data?.breakdown ?? []}
        csv={csv}
        label={(row) => (row.isOther ? "Other" : row.value ?? "(none)")}
        rowKey={(row) => (row.isOther ? "\u0000other" : row.value ?? "\u0000none")}
        loading={details.fetching}
        error={details.error}
        onRetry={details.retry}
        onPick={pickBreakdown}
        testId="sessions-breakdown"
      />
      <div className="grid-2">
        <StatsTable title="Top entry pages" valueLabel="Entry page" rows={details.data?.entryPages ?? []} csv={csv}
          label={(row) => row.page} rowKey={(row) => row.page} loading={details.fetching} error={details.error}
          onRetry={details.retry} testId="sessions-entry-pages" />
        <StatsTable title="Top exit pages" valueLabel="Exit page" rows={details.data?.exitPages ?? []} csv={csv}
          label={(row) => row.page} rowKey={(row) => row.page} loading={details.fetching} error={details.error}
          onRetry={details.retry} testId="sessions-exit-pages" />
      </div>
    </div>
  );
}
