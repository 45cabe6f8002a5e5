/**
 * The insights builder: trends of one or more series (an event or all events, with a math), over a
 * date range and interval, filtered, broken down by a property, compared with the previous period,
 * drawn as a line, bars, numbers or a table. The chart is kept current by `liveTrends`; the whole
 * builder lives in the URL query string, so an insight can be bookmarked and shared.
 */
import { useId, useMemo } from "react";
import { gql } from "urql";
import { PageHeader } from "../components/PageHeader";
import { useLiveQuery } from "../lib/live";
import { useProject } from "../lib/project";
import { useClock } from "../lib/timers";
import { presetById, type DateRange, type Interval } from "../lib/time";
import { BreakdownControl } from "./insights/BreakdownControl";
import { CommitInput } from "./insights/CommitInput";
import { useDefinitions } from "./insights/definitions";
import {
  bucketCount,
  filterInputs,
  INTERVALS,
  MAX_BUCKETS,
  readBreakdown,
  readFilters,
  readJson,
  readRange,
  resolveRange,
  writeBreakdown,
  writeFilters,
  writeRange,
  type RangeChoice,
} from "./insights/params";
import { PropertyFilters } from "./insights/PropertyFilters";
import { useUrlParams } from "./insights/useUrlParams";
import { RangeControl } from "./insights/RangeControl";
import {
  CHART_TYPES,
  isSeriesList,
  LETTERS,
  MATHS,
  needsProperty,
  toLines,
  type ChartType,
  type Math,
  type SeriesSpec,
  type TrendSeries,
} from "./insights/series";
import { TrendView } from "./insights/TrendView";

const ARGS = `$projectId: ID!, $series: [SeriesInput!]!, $interval: Interval!, $dateRange: DateRangeInput!,
  $filters: [PropertyFilterInput!], $breakdown: BreakdownInput, $breakdownLimit: Int!, $compare: Boolean!`;
const CALL = `projectId: $projectId, series: $series, interval: $interval, dateRange: $dateRange, filters: $filters,
  breakdown: $breakdown, breakdownLimit: $breakdownLimit, compare: $compare`;
const FIELDS = "label points { bucket value } breakdownValue isOther compare";
const TRENDS = gql`query InsightTrends(${ARGS}) { trends(${CALL}) { ${FIELDS} } }`;
const LIVE_TRENDS = gql`subscription InsightLiveTrends(${ARGS}) { liveTrends(${CALL}) { ${FIELDS} } }`;

const DEFAULT_SERIES: SeriesSpec[] = [{ event: null, math: "TOTAL", property: null }];
const DEFAULT_RANGE = "7d";

function readSeries(params: URLSearchParams): SeriesSpec[] {
  return readJson(params, "series", isSeriesList, DEFAULT_SERIES).map((s) => ({
    event: s.event, math: s.math, property: s.property ?? null,
  }));
}

function isInterval(value: string | null): value is Interval {
  return INTERVALS.some((i) => i.id === value);
}

function isChartType(value: string | null): value is ChartType {
  return CHART_TYPES.some((c) => c.id === value);
}

export default function InsightsPage() {
  const project = useProject();
  const definitions = useDefinitions(project.id);
  const { search, update } = useUrlParams();
  const propertyListId = useId();

  // Everything the builder shows is read from the URL; every change writes it back.
  const state = useMemo(() => {
    const p = new URLSearchParams(search);
    const range = readRange(p, DEFAULT_RANGE);
    const intervalParam = p.get("interval");
    const interval: Interval = isInterval(intervalParam)
      ? intervalParam
      : range.id === "custom" ? "DAY" : presetById(range.id).interval;
    const chartParam = p.get("chart");
    return {
      series: readSeries(p),
      filters: readFilters(p),
      breakdown: readBreakdown(p),
      range,
      interval,
      compare: p.get("compare") === "1",
      chart: isChartType(chartParam) ? chartParam : "line",
    };
  }, [search]);

  // Series edits apply to the latest URL (not the last render), so quick successive edits all stick.
  const setSeries = (change: (series: SeriesSpec[]) => SeriesSpec[]) =>
    update((p) => p.set("series", JSON.stringify(change(readSeries(p)))));
  const editSeries = (index: number, change: (spec: SeriesSpec) => Partial<SeriesSpec>) =>
    setSeries((series) => series.map((s, i) => (i === index ? { ...s, ...change(s) } : s)));

  const clock = useClock(60_000);
  const rangeFrom = resolveRange(state.range, project.timezone, new Date(clock));
  const dateRange = useMemo(() => ({ from: rangeFrom.from, to: rangeFrom.to }), [rangeFrom.from, rangeFrom.to]);
  const buckets = bucketCount(dateRange, state.interval);

  const missingProperty = state.series.findIndex((s) => needsProperty(s.math) && !s.property);
  const problem =
    missingProperty >= 0
      ? `Pick the numeric property of series ${LETTERS[missingProperty]}.`
      : buckets > MAX_BUCKETS
        ? `${buckets.toLocaleString()} ${state.interval.toLowerCase()}s is too many points: choose a larger interval.`
        : new Date(dateRange.from) >= new Date(dateRange.to)
          ? "The range must end after it starts."
          : null;

  const variables = useMemo(
    () => ({
      projectId: project.id,
      series: state.series.map((s) => ({ event: s.event, math: s.math, property: needsProperty(s.math) ? s.property : null })),
      interval: state.interval,
      dateRange,
      filters: state.filters.length ? filterInputs(state.filters) : null,
      breakdown: state.breakdown ? { key: state.breakdown.key, type: state.breakdown.type } : null,
      breakdownLimit: state.breakdown?.limit ?? 10,
      compare: state.compare,
    }),
    [project.id, state, dateRange],
  );

  const trends = useLiveQuery<TrendSeries[] | undefined, { trends: TrendSeries[] }, { liveTrends: TrendSeries[] } | null>({
    query: TRENDS,
    subscription: LIVE_TRENDS,
    variables,
    fromQuery: (d) => d.trends,
    // A refused subscription answers data: null (with its error): nothing to show then.
    fromSubscription: (d) => d?.liveTrends,
    pause: problem !== null,
  });
  const lines = useMemo(
    () => (trends.data ? toLines(trends.data, state.series, state.breakdown !== null) : undefined),
    [trends.data, state.series, state.breakdown],
  );

  const eventOptions = (current: string | null) =>
    current !== null && !definitions.events.includes(current) ? [current, ...definitions.events] : definitions.events;

  return (
    <div className="page" data-range-from={dateRange.from} data-range-to={dateRange.to}>
      <PageHeader
        title="Insights"
        description={<>Trends of {project.name} · times in {project.timezone}</>}
      />

      <section className="card ins-builder" aria-label="Insight builder">
        <div className="ins-section">
          <div className="ins-section-title">Series</div>
          <div className="ins-series-list">
            {state.series.map((spec, index) => {
              const letter = LETTERS[index] ?? String(index + 1);
              const numeric = definitions.numericProperties(spec.event);
              return (
                <div className="ins-series-row" key={index} data-testid="series-row">
                  <span className={`ins-letter ins-letter-${index % 6}`} aria-hidden="true">{letter}</span>
                  <select aria-label={`Event of series ${letter}`} value={spec.event ?? ""} onFocus={definitions.refresh}
                    onChange={(e) => {
                      const event = e.target.value || null;
                      editSeries(index, () => ({ event }));
                    }}>
                    <option value="">All events</option>
                    {eventOptions(spec.event).map((name) => <option key={name} value={name}>{name}</option>)}
                  </select>
                  <select aria-label={`Math of series ${letter}`} value={spec.math}
                    onChange={(e) => {
                      const math = e.target.value as Math;
                      editSeries(index, (current) => ({
                        math,
                        property: needsProperty(math) ? (current.property ?? numeric[0] ?? null) : null,
                      }));
                    }}>
                    {MATHS.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
                  </select>
                  {needsProperty(spec.math) ? (
                    <>
                      <CommitInput aria-label={`Property of series ${letter}`} placeholder="numeric property"
                        list={`${propertyListId}-${index}`} value={spec.property ?? ""}
                        aria-invalid={!spec.property}
                        onCommit={(property) => editSeries(index, () => ({ property: property || null }))} />
                      <datalist id={`${propertyListId}-${index}`}>
                        {numeric.map((name) => <option key={name} value={name} />)}
                      </datalist>
                    </>
                  ) : null}
                  <button type="button" className="button button-ghost button-small ins-remove"
                    aria-label={`Remove series ${letter}`} disabled={state.series.length === 1}
                    onClick={() => setSeries((series) => series.filter((_, i) => i !== index))}>
                    ×
                  </button>
                </div>
              );
            })}
          </div>
          <button type="button" className="button button-small button-ghost ins-add" disabled={state.series.length >= 20}
            onClick={() => setSeries((series) => [...series, { event: series.at(-1)?.event ?? null, math: "TOTAL", property: null }])}>
            + Add series
          </button>
        </div>

        <div className="ins-section">
          <div className="ins-section-title">Filters</div>
          <PropertyFilters filters={state.filters} propertyKeys={definitions.propertyKeys}
            onChange={(filters) => update((p) => writeFilters(p, filters))} />
        </div>

        <div className="ins-section">
          <div className="ins-section-title">Breakdown</div>
          <BreakdownControl value={state.breakdown} propertyKeys={definitions.propertyKeys}
            onChange={(breakdown) => update((p) => writeBreakdown(p, breakdown))} />
        </div>

        <div className="ins-toolbar">
          <RangeAndInterval
            state={state}
            dateRange={dateRange}
            timeZone={project.timezone}
            onRange={(range) => update((p) => {
              writeRange(p, range);
              p.delete("interval");
            })}
            onInterval={(interval) => update((p) => p.set("interval", interval))}
          />
          <label className="checkbox">
            <input type="checkbox" checked={state.compare}
              onChange={(e) => update((p) => (e.target.checked ? p.set("compare", "1") : p.delete("compare")))} />
            Compare with previous period
          </label>
          <div className="ins-seg" role="group" aria-label="Chart type">
            {CHART_TYPES.map((type) => (
              <button key={type.id} type="button" aria-pressed={state.chart === type.id}
                className={state.chart === type.id ? "active" : undefined}
                onClick={() => update((p) => p.set("chart", type.id))}>
                {type.label}
              </button>
            ))}
          </div>
        </div>
      </section>

      {problem ? (
        <div className="alert alert-info" role="status">{problem}</div>
      ) : (
        <TrendView
          lines={lines}
          variables={variables}
          specs={state.series}
          chartType={state.chart}
          interval={state.interval}
          timeZone={project.timezone}
          rangeEnd={dateRange.to}
          loading={trends.fetching}
          error={trends.error}
          onRetry={trends.retry}
          badge={trends.live ? <span className="badge badge-live" data-testid="live-badge">live</span> : null}
        />
      )}
    </div>
  );
}

function RangeAndInterval({
  state,
  dateRange,
  timeZone,
  onRange,
  onInterval,
}: {
  state: { range: RangeChoice; interval: Interval };
  dateRange: DateRange;
  timeZone: string;
  onRange: (range: RangeChoice) => void;
  onInterval: (interval: Interval) => void;
}) {
  return (
    <>
      <RangeControl value={state.range} resolved={dateRange} timeZone={timeZone} onChange={onRange} />
      <label className="ins-inline-label">
        by
        <select aria-label="Interval" value={state.interval} onChange={(e) => onInterval(e.target.value as Interval)}>
          {INTERVALS.map((interval) => (
            <option key={interval.id} value={interval.id} disabled={bucketCount(dateRange, interval.id) > MAX_BUCKETS}>
              {interval.label}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}
