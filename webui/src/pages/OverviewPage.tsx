/**
 * The project at a glance: KPI counters, events over time and the top pages, referrers, countries
 * and browsers. Counters and the chart are kept current by subscriptions (liveTrends, liveSessions,
 * liveCounters); the top lists refresh when the event count moves.
 */
import { useEffect, useMemo } from "react";
import { useSearchParams } from "react-router";
import { gql, useQuery } from "urql";
import { Chart } from "../components/Chart";
import { DateRangePicker } from "../components/DateRangePicker";
import { KpiCard } from "../components/KpiCard";
import { PageHeader } from "../components/PageHeader";
import { TopList, type TopListRow } from "../components/TopList";
import type { ChartOption } from "../lib/echarts";
import { formatCount, formatDuration, formatPercent } from "../lib/format";
import { useLiveQuery, useThrottledChange } from "../lib/live";
import { useProject } from "../lib/project";
import { cssVar } from "../lib/theme";
import { formatBucket, formatDateTime, presetById, type Interval } from "../lib/time";
import { useClock } from "../lib/timers";

interface TrendSeries {
  label: string;
  points: { bucket: string; value: number }[];
}

interface SessionTotals {
  sessions: number;
  persons: number;
  bounceRate: number | null;
  medianDurationSeconds: number | null;
}

interface Counters {
  activePersons: number;
  eventsPerSecond: number | null;
}

/** The overview counts every event; the series is a variable so the CSV export posts the same variables. */
const EVERY_EVENT = [{ math: "TOTAL" }];
const TREND_ARGS = "$projectId: ID!, $series: [SeriesInput!]!, $interval: Interval!, $dateRange: DateRangeInput!";
const TREND_CALL = "projectId: $projectId, series: $series, interval: $interval, dateRange: $dateRange";
const TRENDS = gql`query OverviewTrends(${TREND_ARGS}) { trends(${TREND_CALL}) { label points { bucket value } } }`;
const LIVE_TRENDS = gql`subscription OverviewLiveTrends(${TREND_ARGS}) { liveTrends(${TREND_CALL}) { label points { bucket value } } }`;

const TOTALS = "totals { sessions persons bounceRate medianDurationSeconds }";
const SESSIONS = gql`query OverviewSessions($projectId: ID!, $dateRange: DateRangeInput!) {
  sessionsSummary(projectId: $projectId, dateRange: $dateRange) { ${TOTALS} } }`;
const LIVE_SESSIONS = gql`subscription OverviewLiveSessions($projectId: ID!, $dateRange: DateRangeInput!) {
  liveSessions(projectId: $projectId, dateRange: $dateRange) { ${TOTALS} } }`;

const REALTIME = gql`query OverviewRealtime($projectId: ID!) { realtime(projectId: $projectId) { activePersons totalEvents } }`;
const LIVE_COUNTERS = gql`subscription OverviewLiveCounters($projectId: ID!) {
  liveCounters(projectId: $projectId) { activePersons eventsPerSecond } }`;

const TOP_LIMIT = 8;
const TOP_LISTS = [
  { key: "pages", title: "Top pages", valueLabel: "page", dimension: "PAGE" },
  { key: "referrers", title: "Top referrers", valueLabel: "referrer", dimension: "REFERRER_DOMAIN" },
  { key: "countries", title: "Top countries", valueLabel: "country", dimension: "COUNTRY" },
  { key: "browsers", title: "Top browsers", valueLabel: "browser", dimension: "BROWSER" },
] as const;
// One request for the four lists; each list's CSV posts its own topValues variables (the dimension too).
const TOP_VALUES = gql`query OverviewTopValues($projectId: ID!, $dateRange: DateRangeInput!, $limit: Int!) {
  ${TOP_LISTS.map((list) => `${list.key}: topValues(projectId: $projectId, dateRange: $dateRange,
    dimension: ${list.dimension}, limit: $limit) { values { value events persons } }`).join("\n")}
}`;

type TopValuesData = Record<(typeof TOP_LISTS)[number]["key"], { values: TopListRow[] }>;

function trendOption(series: TrendSeries | undefined, interval: Interval, timeZone: string): ChartOption {
  const points = series?.points ?? [];
  const accent = cssVar("--chart-1");
  return {
    tooltip: { trigger: "axis", valueFormatter: (value: unknown) => formatCount(Number(value)) },
    xAxis: {
      type: "category",
      boundaryGap: interval !== "MINUTE" && points.length < 40,
      data: points.map((p) => formatBucket(p.bucket, interval, timeZone)),
      splitLine: { show: false },
    },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      {
        name: "Events",
        type: points.length <= 31 ? "bar" : "line",
        data: points.map((p) => p.value),
        barMaxWidth: 28,
        itemStyle: { borderRadius: [3, 3, 0, 0] },
        showSymbol: false,
        smooth: 0.2,
        lineStyle: { width: 2 },
        areaStyle: { opacity: 0.12, color: accent },
      },
    ],
  };
}

export default function OverviewPage() {
  const project = useProject();
  const [params, setParams] = useSearchParams();
  const preset = presetById(params.get("range") ?? "24h");
  const clock = useClock(5 * 60_000);
  const dateRange = useMemo(() => preset.range(project.timezone, new Date(clock)), [preset, project.timezone, clock]);
  const rangeVars = useMemo(() => ({ projectId: project.id, dateRange }), [project.id, dateRange]);
  const trendVars = useMemo(
    () => ({ ...rangeVars, series: EVERY_EVENT, interval: preset.interval }),
    [rangeVars, preset.interval],
  );
  const topVars = useMemo(() => ({ ...rangeVars, limit: TOP_LIMIT }), [rangeVars]);
  const projectVars = useMemo(() => ({ projectId: project.id }), [project.id]);

  const trends = useLiveQuery<TrendSeries | undefined, { trends: TrendSeries[] }, { liveTrends: TrendSeries[] }>({
    query: TRENDS, subscription: LIVE_TRENDS, variables: trendVars,
    fromQuery: (d) => d.trends[0], fromSubscription: (d) => d.liveTrends[0],
  });
  const sessions = useLiveQuery<SessionTotals, { sessionsSummary: { totals: SessionTotals } }, { liveSessions: { totals: SessionTotals } }>({
    query: SESSIONS, subscription: LIVE_SESSIONS, variables: rangeVars,
    fromQuery: (d) => d.sessionsSummary.totals, fromSubscription: (d) => d.liveSessions.totals,
  });
  const counters = useLiveQuery<Counters, { realtime: { activePersons: number } }, { liveCounters: Counters }>({
    query: REALTIME, subscription: LIVE_COUNTERS, variables: projectVars,
    fromQuery: (d) => ({ activePersons: d.realtime.activePersons, eventsPerSecond: null }),
    fromSubscription: (d) => d.liveCounters,
  });

  const totalEvents = trends.data ? trends.data.points.reduce((sum, p) => sum + p.value, 0) : undefined;
  // The top lists have no subscription: refresh them when the event count moves (at most every 3 s).
  const topVersion = useThrottledChange(totalEvents, 3_000);
  const [top, reexecuteTop] = useQuery<TopValuesData>({ query: TOP_VALUES, variables: topVars });
  useEffect(() => {
    if (topVersion > 0) reexecuteTop({ requestPolicy: "network-only" });
  }, [topVersion, reexecuteTop]);

  const option = useMemo(
    () => trendOption(trends.data, preset.interval, project.timezone),
    [trends.data, preset.interval, project.timezone],
  );
  const table = useMemo(
    () => ({
      header: ["bucket", "events"],
      rows: (trends.data?.points ?? []).map((p) => [p.bucket, p.value]),
    }),
    [trends.data],
  );

  return (
    <div className="page">
      <PageHeader
        title="Overview"
        description={<>{project.name} · times in {project.timezone}</>}
        actions={<DateRangePicker value={preset.id} onChange={(id) => setParams({ range: id }, { replace: true })} />}
      />
      <div className="kpis">
        <KpiCard testId="kpi-events" label="Events" live={trends.live} loading={totalEvents === undefined && !trends.error}
          value={trends.error ? "–" : formatCount(totalEvents)} note={preset.label} />
        <KpiCard testId="kpi-persons" label="Persons" live={sessions.live} loading={!sessions.data && !sessions.error}
          value={formatCount(sessions.data?.persons)} note="with a session in range" />
        <KpiCard testId="kpi-sessions" label="Sessions" live={sessions.live} loading={!sessions.data && !sessions.error}
          value={formatCount(sessions.data?.sessions)}
          note={`median ${formatDuration(sessions.data?.medianDurationSeconds)}`} />
        <KpiCard testId="kpi-bounce" label="Bounce rate" live={sessions.live} loading={!sessions.data && !sessions.error}
          value={formatPercent(sessions.data?.bounceRate)} note="one-event sessions" />
        <KpiCard testId="kpi-live" label="Live visitors" live={counters.live} loading={!counters.data && !counters.error}
          value={formatCount(counters.data?.activePersons)}
          note={counters.data?.eventsPerSecond != null ? `${counters.data.eventsPerSecond.toFixed(1)} events/s` : "last 5 minutes"} />
      </div>
      <Chart
        title="Events over time"
        option={option}
        table={table}
        csv={{ name: "trends", variables: trendVars }}
        height={280}
        loading={trends.fetching}
        error={trends.error}
        onRetry={trends.retry}
        empty={totalEvents === 0}
        emptyMessage="Send events with a write key from API keys; they appear here as they arrive."
        badge={trends.live ? <span className="badge badge-live" title={`Updated live · ${formatDateTime(new Date(), project.timezone)}`}>live</span> : null}
      />
      <div className="grid-2">
        {TOP_LISTS.map((list) => (
          <TopList key={list.key} title={list.title} valueLabel={list.valueLabel} rows={top.data?.[list.key].values ?? []}
            csv={{ name: "topValues", variables: { ...topVars, dimension: list.dimension } }} loading={top.fetching}
            error={top.error} onRetry={() => reexecuteTop({ requestPolicy: "network-only" })} />
        ))}
      </div>
    </div>
  );
}
