/**
 * Retention: of the persons who did a start event in a period (a cohort), how many did a return
 * event 0, 1, 2, … periods later. A cohort grid shaded by the share retained, and the average
 * curve over all cohorts; kept current by the liveRetention subscription.
 */
import { useMemo, useState, type CSSProperties, type FormEvent } from "react";
import { gql, useQuery } from "urql";
import { Chart } from "../components/Chart";
import { CsvButton } from "../components/CsvButton";
import { DateRangePicker } from "../components/DateRangePicker";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import type { ChartOption } from "../lib/echarts";
import type { CsvExport } from "../lib/exports";
import { formatCount, formatPercent } from "../lib/format";
import { useLiveQuery } from "../lib/live";
import { useProject } from "../lib/project";
import { cssVar } from "../lib/theme";
import { formatBucket, formatDateTime, presetById, type Interval } from "../lib/time";
import { useUrlParams } from "./insights/useUrlParams";

type Period = "DAY" | "WEEK" | "MONTH";
type Mode = "FIRST_TIME" | "RECURRING";

interface RetentionValue {
  period: number;
  periodStart: string;
  count: number;
  fraction: number;
}

interface Cohort {
  cohortStart: string;
  size: number;
  values: RetentionValue[];
}

const PERIODS: { id: Period; label: string; unit: string; max: number; fallback: number }[] = [
  { id: "DAY", label: "Day", unit: "Day", max: 90, fallback: 8 },
  { id: "WEEK", label: "Week", unit: "Week", max: 52, fallback: 8 },
  { id: "MONTH", label: "Month", unit: "Month", max: 24, fallback: 6 },
];

const MODES: { id: Mode; label: string; hint: string }[] = [
  { id: "RECURRING", label: "Recurring", hint: "every period with a start event is a cohort of the person" },
  { id: "FIRST_TIME", label: "First time", hint: "a person's cohort is the period of their first-ever start event" },
];

const ARGS = `$projectId: ID!, $startEvent: String!, $returnEvent: String!, $period: RetentionPeriod!, $periods: Int!,
  $dateRange: DateRangeInput!, $mode: RetentionMode!`;
const CALL = `projectId: $projectId, startEvent: $startEvent, returnEvent: $returnEvent, period: $period,
  periods: $periods, dateRange: $dateRange, mode: $mode`;
const FIELDS = "cohortStart size values { period periodStart count fraction }";
const RETENTION = gql`query Retention(${ARGS}) { retention(${CALL}) { ${FIELDS} } }`;
const LIVE_RETENTION = gql`subscription LiveRetention(${ARGS}) { liveRetention(${CALL}) { ${FIELDS} } }`;

const EVENT_NAMES = gql`query RetentionEventNames($projectId: ID!) { eventDefinitions(projectId: $projectId) { event volume } }`;

interface AveragePoint {
  period: number;
  retained: number;
  cohortPersons: number;
  fraction: number;
}

/** Per k, retained persons over the persons of the (non-empty) cohorts that have reached period k. */
function averages(cohorts: Cohort[], periods: number): AveragePoint[] {
  const points: AveragePoint[] = [];
  for (let k = 0; k < periods; k++) {
    let retained = 0;
    let cohortPersons = 0;
    let reached = false;
    for (const cohort of cohorts) {
      const value = cohort.values.find((v) => v.period === k);
      // An empty cohort says nothing about coming back.
      if (!value || cohort.size === 0) continue;
      reached = true;
      retained += value.count;
      cohortPersons += cohort.size;
    }
    if (!reached) continue;
    points.push({ period: k, retained, cohortPersons, fraction: cohortPersons ? retained / cohortPersons : 0 });
  }
  return points;
}

function clampPeriods(value: number, period: Period): number {
  const spec = PERIODS.find((p) => p.id === period)!;
  if (!Number.isFinite(value)) return spec.fallback;
  return Math.min(spec.max, Math.max(1, Math.round(value)));
}

/** A cell's background: the accent colour, stronger with the share retained. */
function shade(fraction: number): CSSProperties {
  const strength = Math.round(8 + fraction * 82);
  return {
    background: `color-mix(in srgb, var(--accent) ${strength}%, var(--surface))`,
    color: fraction >= 0.55 ? "var(--accent-contrast)" : undefined,
  };
}

function curveOption(points: AveragePoint[], unit: string): ChartOption {
  const accent = cssVar("--chart-1");
  return {
    tooltip: {
      trigger: "axis",
      valueFormatter: (value: unknown) => `${Number(value).toFixed(1)}%`,
    },
    xAxis: { type: "category", boundaryGap: false, data: points.map((p) => `${unit} ${p.period}`), splitLine: { show: false } },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
    series: [
      {
        name: "Retained",
        type: "line",
        data: points.map((p) => Number((p.fraction * 100).toFixed(2))),
        symbolSize: 7,
        lineStyle: { width: 2.5 },
        areaStyle: { opacity: 0.12, color: accent },
      },
    ],
  };
}

export default function RetentionPage() {
  const project = useProject();
  const { search, update: updateUrl } = useUrlParams();
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const [names] = useQuery<{ eventDefinitions: { event: string; volume: number }[] }>({
    query: EVENT_NAMES, variables: { projectId: project.id },
  });
  const eventNames = useMemo(
    () => [...(names.data?.eventDefinitions ?? [])].sort((a, b) => b.volume - a.volume).map((d) => d.event),
    [names.data],
  );

  const period = (PERIODS.find((p) => p.id === params.get("period"))?.id ?? "DAY") as Period;
  const periodSpec = PERIODS.find((p) => p.id === period)!;
  const periods = clampPeriods(Number(params.get("periods") ?? periodSpec.fallback), period);
  const mode = (MODES.find((m) => m.id === params.get("mode"))?.id ?? "RECURRING") as Mode;
  const preset = presetById(params.get("range") ?? "7d");
  // Without a choice, both events are the most frequent event name (everyone who came back).
  const startEvent = params.get("start") ?? eventNames[0] ?? "";
  const returnEvent = params.get("return") ?? eventNames[0] ?? "";

  const [draft, setDraft] = useState<{ start: string; ret: string } | null>(null);
  const shownDraft = draft ?? { start: startEvent, ret: returnEvent };

  const update = (changes: Record<string, string>) =>
    updateUrl((next) => {
      for (const [key, value] of Object.entries(changes)) next.set(key, value);
    });
  const apply = (event: FormEvent) => {
    event.preventDefault();
    update({ start: shownDraft.start.trim(), return: shownDraft.ret.trim() });
    setDraft(null);
  };

  // The range is fixed when the screen opens (or the preset changes), so pushes compare like with like.
  const dateRange = useMemo(() => preset.range(project.timezone), [preset, project.timezone]);
  const variables = useMemo(
    () => ({ projectId: project.id, startEvent, returnEvent, period, periods, dateRange, mode }),
    [project.id, startEvent, returnEvent, period, periods, dateRange, mode],
  );
  const ready = startEvent !== "" && returnEvent !== "";
  const retention = useLiveQuery<Cohort[], { retention: Cohort[] }, { liveRetention: Cohort[] }>({
    query: RETENTION, subscription: LIVE_RETENTION, variables, pause: !ready,
    fromQuery: (d) => d.retention, fromSubscription: (d) => d.liveRetention,
  });

  const cohorts = useMemo(() => retention.data ?? [], [retention.data]);
  const totalPersons = cohorts.reduce((sum, c) => sum + c.size, 0);
  const points = useMemo(() => averages(cohorts, periods), [cohorts, periods]);
  const bucket: Interval = period;
  const option = useMemo(() => curveOption(points, periodSpec.unit), [points, periodSpec.unit]);
  const curveTable = useMemo(
    () => ({
      header: ["period", "retained_percent", "retained_persons", "cohort_persons"],
      rows: points.map((p) => [p.period, Number((p.fraction * 100).toFixed(2)), p.retained, p.cohortPersons]),
    }),
    [points],
  );
  // The curve and the grid are both drawn from the cohorts: both download the retention export.
  const csv = useMemo<CsvExport>(() => ({ name: "retention", variables }), [variables]);

  const liveBadge = retention.live ? (
    <span className="badge badge-live" title={`Updated live · ${formatDateTime(new Date(), project.timezone)}`}>live</span>
  ) : null;

  return (
    <div className="page">
      <PageHeader
        title="Retention"
        description={<>Do people come back? Cohorts by the {periodSpec.label.toLowerCase()} of their start event · times in {project.timezone}</>}
        actions={<DateRangePicker value={preset.id} onChange={(id) => update({ range: id })} />}
      />
      <form className="card filters" onSubmit={apply} aria-label="Retention settings">
        <datalist id="retention-event-names">
          {eventNames.map((name) => <option key={name} value={name} />)}
        </datalist>
        <label className="field grow">
          <span className="field-label">Start event</span>
          <input className="input" name="startEvent" list="retention-event-names" placeholder="Signed Up" required
            value={shownDraft.start} onChange={(e) => setDraft({ ...shownDraft, start: e.target.value })} />
        </label>
        <label className="field grow">
          <span className="field-label">Return event</span>
          <input className="input" name="returnEvent" list="retention-event-names" placeholder="Any event name" required
            value={shownDraft.ret} onChange={(e) => setDraft({ ...shownDraft, ret: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">Period</span>
          <select value={period} aria-label="Period"
            onChange={(e) => {
              const next = e.target.value as Period;
              update({ period: next, periods: String(clampPeriods(periods, next)) });
            }}>
            {PERIODS.map((p) => <option key={p.id} value={p.id}>{p.label}</option>)}
          </select>
        </label>
        <label className="field">
          <span className="field-label">Periods</span>
          <input className="input retention-periods" type="number" min={1} max={periodSpec.max} aria-label="Periods"
            value={periods} onChange={(e) => update({ periods: String(clampPeriods(Number(e.target.value), period)) })} />
        </label>
        <label className="field">
          <span className="field-label">Cohorts</span>
          <select value={mode} aria-label="Cohorts" title={MODES.find((m) => m.id === mode)?.hint}
            onChange={(e) => update({ mode: e.target.value })}>
            {MODES.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
          </select>
        </label>
        <button type="submit" className="button button-primary" disabled={draft === null}>Apply</button>
      </form>

      {!ready && names.fetching ? <LoadingState /> : null}
      {!ready && !names.fetching ? (
        names.error ? <ErrorState error={names.error} /> : (
          <EmptyState title="No events yet">
            Retention compares a start event with a return event. Send events with a write key, or type event names above.
          </EmptyState>
        )
      ) : null}

      {ready ? (
        <>
          <Chart
            title="Average retention"
            option={option}
            table={curveTable}
            csv={csv}
            height={240}
            loading={retention.fetching}
            error={retention.error}
            onRetry={retention.retry}
            empty={totalPersons === 0}
            emptyMessage={<>Nobody did “{startEvent}” in this range.</>}
            badge={liveBadge}
          />
          <section className="card retention-card" aria-label="Cohorts" data-testid="retention-grid"
            data-from={dateRange.from} data-to={dateRange.to}>
            <header className="card-header">
              <h2 className="card-title">
                Cohorts
                <span className="muted retention-summary">
                  {formatCount(totalPersons)} {totalPersons === 1 ? "person" : "persons"} in {cohorts.length}{" "}
                  {cohorts.length === 1 ? "cohort" : "cohorts"} · {startEvent} → {returnEvent}
                </span>
              </h2>
              <div className="card-actions">
                <CsvButton csv={csv} disabled={cohorts.length === 0} title="Download the cohort table as CSV" />
              </div>
            </header>
            {retention.fetching ? <LoadingState compact /> : null}
            {retention.error ? <ErrorState error={retention.error} onRetry={retention.retry} compact /> : null}
            {retention.data && cohorts.length === 0 ? <EmptyState title="No cohorts in this range" compact /> : null}
            {cohorts.length > 0 ? (
              <div className="retention-scroll">
                <table className="retention-grid">
                  <thead>
                    <tr>
                      <th className="retention-cohort">Cohort</th>
                      <th className="numeric">Persons</th>
                      {Array.from({ length: periods }, (_, k) => <th key={k} className="numeric">{periodSpec.unit} {k}</th>)}
                    </tr>
                  </thead>
                  <tbody>
                    <tr className="retention-average" data-testid="retention-average">
                      <td className="retention-cohort">Average</td>
                      <td className="numeric">{formatCount(totalPersons)}</td>
                      {Array.from({ length: periods }, (_, k) => {
                        const point = points.find((p) => p.period === k);
                        return point ? (
                          <td key={k} className="numeric retention-cell" style={shade(point.fraction)}>
                            {formatPercent(point.fraction)}
                          </td>
                        ) : <td key={k} className="retention-cell retention-blank" />;
                      })}
                    </tr>
                    {cohorts.map((cohort) => (
                      <tr key={cohort.cohortStart} data-cohort={cohort.cohortStart} data-size={cohort.size}>
                        <td className="retention-cohort nowrap">{formatBucket(cohort.cohortStart, bucket, project.timezone)}</td>
                        <td className="numeric" data-testid="cohort-size">{formatCount(cohort.size)}</td>
                        {Array.from({ length: periods }, (_, k) => {
                          const value = cohort.values.find((v) => v.period === k);
                          if (!value) return <td key={k} className="retention-cell retention-blank" data-period={k} />;
                          if (cohort.size === 0) {
                            return <td key={k} className="numeric retention-cell retention-none muted" data-period={k}
                              data-count={value.count}>–</td>;
                          }
                          return (
                            <td key={k} className="numeric retention-cell" data-period={k} data-count={value.count}
                              style={shade(value.fraction)}
                              title={`${formatCount(value.count)} of ${formatCount(cohort.size)} · ${formatBucket(value.periodStart, bucket, project.timezone)}`}>
                              <span className="retention-percent">{formatPercent(value.fraction)}</span>
                              <span className="retention-count">{formatCount(value.count)}</span>
                            </td>
                          );
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
          </section>
        </>
      ) : null}
    </div>
  );
}
