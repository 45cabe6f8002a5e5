/**
 * The answer of a trends query, drawn as the builder's chart type: line or bar (a Chart card with
 * CSV and PNG export), one big number per line, or a table of every bucket. Whatever the type, the
 * card carries the same data as a hidden table (one row per line and bucket), and its CSV button
 * downloads the server's trends export of the same query.
 */
import { useMemo, type ReactNode } from "react";
import type { CombinedError } from "urql";
import { Chart } from "../../components/Chart";
import { CsvButton } from "../../components/CsvButton";
import { EmptyState, ErrorState, LoadingState } from "../../components/States";
import type { Table } from "../../lib/csv";
import type { ChartOption } from "../../lib/echarts";
import type { CsvExport } from "../../lib/exports";
import { formatPercent } from "../../lib/format";
import { cssVar } from "../../lib/theme";
import { formatBucket, type Interval } from "../../lib/time";
import { headline, headlineCaption, isAdditive, type ChartType, type Line, type SeriesSpec } from "./series";

const CHART_NAME = "Trend";
const SLUG = "trend";

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function formatValue(value: number): string {
  return Math.abs(value) >= 1_000_000
    ? new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 }).format(value)
    : numberFormat.format(value);
}

export function trendTable(lines: Line[]): Table {
  return {
    header: ["series", "label", "breakdown", "period", "bucket", "value"],
    rows: lines.flatMap((line) =>
      line.result.points.map((p) => [
        line.name, line.result.label, line.breakdown, line.result.compare ? "previous" : "current", p.bucket, p.value,
      ]),
    ),
  };
}

function chartOption(lines: Line[], type: "line" | "bar", interval: Interval, timeZone: string): ChartOption {
  const buckets = lines[0]?.result.points.map((p) => formatBucket(p.bucket, interval, timeZone)) ?? [];
  return {
    tooltip: { trigger: "axis", valueFormatter: (value: unknown) => formatValue(Number(value)) },
    legend: {
      show: lines.length > 1, type: "scroll", top: 0, left: 0, right: 0, icon: "roundRect", itemWidth: 10, itemHeight: 10,
      textStyle: { color: cssVar("--text-muted") }, pageTextStyle: { color: cssVar("--text-muted") },
      pageIconColor: cssVar("--text-muted"), pageIconInactiveColor: cssVar("--border-strong"),
    },
    animationDuration: 400,
    grid: { left: 8, right: 16, top: lines.length > 1 ? 40 : 16, bottom: 8, containLabel: true },
    xAxis: { type: "category", boundaryGap: type === "bar", data: buckets, splitLine: { show: false } },
    yAxis: { type: "value" },
    series: lines.map((line) => ({
      name: line.name,
      type,
      data: line.result.points.map((p) => p.value),
      showSymbol: buckets.length <= 31,
      symbolSize: 5,
      barMaxWidth: 24,
      itemStyle: type === "bar" ? { borderRadius: [3, 3, 0, 0], opacity: line.result.compare ? 0.45 : 1 } : undefined,
      lineStyle: { width: 2, type: line.result.compare ? "dashed" : "solid", opacity: line.result.compare ? 0.7 : 1 },
      emphasis: { focus: "series" },
    })),
  };
}

/** The same card frame as Chart, for the views that are not ECharts (number, table). */
function PlainCard({ table, csv, badge, children }: {
  table: Table;
  csv: CsvExport | null;
  badge?: ReactNode;
  children: ReactNode;
}) {
  return (
    <section className="card chart" data-chart={SLUG} aria-label={CHART_NAME}>
      <header className="card-header">
        <h2 className="card-title">{CHART_NAME}{badge}</h2>
        <div className="card-actions">
          <CsvButton csv={csv} disabled={table.rows.length === 0} />
        </div>
      </header>
      <div className="chart-body">{children}</div>
      <div className="visually-hidden">
        <table data-testid="chart-data">
          <thead><tr>{table.header.map((cell) => <th key={cell}>{cell}</th>)}</tr></thead>
          <tbody>
            {table.rows.map((row, index) => (
              <tr key={index}>{row.map((cell, column) => <td key={column}>{cell === null || cell === undefined ? "" : String(cell)}</td>)}</tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function NumberView({ lines, specs, interval, rangeEnd }: { lines: Line[]; specs: SeriesSpec[]; interval: Interval; rangeEnd: string }) {
  const current = lines.filter((line) => !line.result.compare);
  return (
    <div className="ins-numbers">
      {current.map((line) => {
        const math = specs[line.series]?.math ?? "TOTAL";
        const value = headline(line, math);
        const previous = lines.find((l) => l.result.compare && l.series === line.series && l.breakdown === line.breakdown);
        const before = previous ? headline(previous, math) : null;
        const change = before !== null && before !== 0 ? (value - before) / before : null;
        return (
          <div className="ins-number" key={line.key} data-testid="insight-number" data-series={line.name}>
            <div className="ins-number-label">{line.name}</div>
            <div className="ins-number-value" data-testid="insight-number-value">{formatValue(value)}</div>
            <div className="ins-number-note">
              {headlineCaption(math, interval, rangeEnd)}
              {before !== null ? (
                <span className={`ins-change ${change === null ? "" : change >= 0 ? "ins-up" : "ins-down"}`}>
                  {change === null ? ` · previous ${formatValue(before)}` : ` · ${change >= 0 ? "+" : ""}${formatPercent(change)} vs previous`}
                </span>
              ) : null}
            </div>
          </div>
        );
      })}
    </div>
  );
}

function TableView({ lines, specs, interval, timeZone }: { lines: Line[]; specs: SeriesSpec[]; interval: Interval; timeZone: string }) {
  const buckets = lines[0]?.result.points.map((p) => p.bucket) ?? [];
  return (
    <div className="table-card ins-table-wrap">
      <table className="table ins-table" data-testid="insight-table">
        <thead>
          <tr>
            <th>Series</th>
            <th className="numeric nowrap">Total / current</th>
            {buckets.map((bucket) => <th key={bucket} className="numeric nowrap">{formatBucket(bucket, interval, timeZone)}</th>)}
          </tr>
        </thead>
        <tbody>
          {lines.map((line) => {
            const math = specs[line.series]?.math ?? "TOTAL";
            return (
              <tr key={line.key} className={line.result.compare ? "row-muted" : undefined}>
                <th scope="row" className="ins-table-series">{line.name}</th>
                <td className="numeric" title={isAdditive(math) ? "Total over the range" : "The current (or last) bucket"}>
                  <strong>{formatValue(headline(line, math))}</strong>
                </td>
                {line.result.points.map((p) => <td key={p.bucket} className="numeric">{formatValue(p.value)}</td>)}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function TrendView({
  lines,
  variables,
  specs,
  chartType,
  interval,
  timeZone,
  rangeEnd,
  loading,
  error,
  onRetry,
  badge,
}: {
  lines: Line[] | undefined;
  /** The variables of the trends query the lines answer: the CSV export posts them. */
  variables: Record<string, unknown>;
  specs: SeriesSpec[];
  chartType: ChartType;
  interval: Interval;
  timeZone: string;
  /** End of the date range (the number view says "this hour" or "last hour"). */
  rangeEnd: string;
  loading: boolean;
  error: CombinedError | Error | undefined;
  onRetry: () => void;
  badge?: ReactNode;
}) {
  const table = useMemo(() => trendTable(lines ?? []), [lines]);
  const csv = useMemo<CsvExport>(() => ({ name: "trends", variables }), [variables]);
  const empty = lines !== undefined && lines.every((line) => line.result.points.every((p) => p.value === 0));
  const option = useMemo(
    () => chartOption(lines ?? [], chartType === "bar" ? "bar" : "line", interval, timeZone),
    [lines, chartType, interval, timeZone],
  );
  const emptyMessage = "No matching events in this range yet: the chart fills in as they arrive.";

  if (chartType === "line" || chartType === "bar") {
    return (
      <Chart title={CHART_NAME} option={option} table={table} csv={csv} height={340} loading={loading} error={error ?? null}
        onRetry={onRetry} empty={empty} emptyMessage={emptyMessage} badge={badge} />
    );
  }
  return (
    <PlainCard table={table} csv={csv} badge={badge}>
      {loading ? <LoadingState /> : null}
      {error ? <ErrorState error={error} onRetry={onRetry} compact /> : null}
      {!loading && !error && lines && empty ? <EmptyState title="No data in this range" compact>{emptyMessage}</EmptyState> : null}
      {!loading && !error && lines && !empty ? (
        chartType === "number"
          ? <NumberView lines={lines} specs={specs} interval={interval} rangeEnd={rangeEnd} />
          : <TableView lines={lines} specs={specs} interval={interval} timeZone={timeZone} />
      ) : null}
    </PlainCard>
  );
}
