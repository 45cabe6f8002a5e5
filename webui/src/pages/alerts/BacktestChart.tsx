/**
 * A rule's backtest (backtestAlert): the series, the range its detector expected (a band, or the
 * threshold line), and a marker on every bucket where it would have been firing. Exportable as
 * CSV (the server's backtest export of the same variables) and PNG like every chart.
 */
import { useEffect, useMemo, useState, type ReactNode } from "react";
import type { CombinedError } from "urql";
import { Chart } from "../../components/Chart";
import type { Table } from "../../lib/csv";
import type { ChartOption } from "../../lib/echarts";
import type { CsvExport } from "../../lib/exports";
import { cssVar, useTheme } from "../../lib/theme";
import { formatBucket } from "../../lib/time";
import { formatNumber, type AlertInterval, type BacktestPoint } from "./api";

export function backtestTable(points: BacktestPoint[]): Table {
  return {
    header: ["bucket", "value", "expected", "lower", "upper", "firing", "reason"],
    rows: points.map((p) => [p.bucket, p.value, p.expected, p.lower, p.upper, p.firing, p.reason]),
  };
}

function option(points: BacktestPoint[], interval: AlertInterval, timeZone: string): ChartOption {
  const labels = points.map((p) => formatBucket(p.bucket, interval, timeZone));
  const hasBand = points.some((p) => p.lower !== null && p.upper !== null);
  const hasExpected = points.some((p) => p.expected !== null);
  const onlyUpper = !hasBand && points.some((p) => p.upper !== null);
  const onlyLower = !hasBand && points.some((p) => p.lower !== null);
  const band = cssVar("--chart-2");
  const danger = cssVar("--danger");
  const series: Record<string, unknown>[] = [];
  if (hasBand) {
    series.push(
      {
        name: "Expected low", type: "line", stack: "band", data: points.map((p) => (p.upper !== null ? p.lower : null)),
        lineStyle: { opacity: 0 }, showSymbol: false, silent: true, tooltip: { show: false },
      },
      {
        name: "Expected range", type: "line", stack: "band",
        data: points.map((p) => (p.lower !== null && p.upper !== null ? p.upper - p.lower : null)),
        lineStyle: { opacity: 0 }, showSymbol: false, areaStyle: { color: band, opacity: 0.18 }, color: band, silent: true,
        tooltip: { show: false },
      },
    );
  }
  if (onlyUpper || onlyLower) {
    series.push({
      name: "Threshold", type: "line", data: points.map((p) => p.upper ?? p.lower), showSymbol: false,
      lineStyle: { type: "dashed", width: 1.5, color: danger }, color: danger,
    });
  }
  if (hasExpected) {
    series.push({
      name: "Expected", type: "line", data: points.map((p) => p.expected), showSymbol: false,
      lineStyle: { type: "dotted", width: 1.5, color: band }, color: band,
    });
  }
  series.push(
    {
      name: "Value", type: "line", data: points.map((p) => p.value), showSymbol: points.length <= 60, symbolSize: 4,
      lineStyle: { width: 2 }, color: cssVar("--chart-1"), z: 3,
    },
    {
      name: "Would fire", type: "scatter", data: points.map((p) => (p.firing ? p.value : null)), symbolSize: 9,
      itemStyle: { color: danger, borderColor: cssVar("--surface"), borderWidth: 1.5 }, color: danger, z: 4,
    },
  );
  return {
    tooltip: { trigger: "axis", valueFormatter: (value: unknown) => (value === null || value === undefined ? "–" : formatNumber(Number(value))) },
    legend: {
      show: true, top: 0, left: 0, icon: "roundRect", itemWidth: 10, itemHeight: 10,
      data: ["Value", ...(hasExpected ? ["Expected"] : []), ...(hasBand ? ["Expected range"] : []),
        ...(onlyUpper || onlyLower ? ["Threshold"] : []), "Would fire"],
      textStyle: { color: cssVar("--text-muted") },
    },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    animationDuration: 300,
    xAxis: { type: "category", boundaryGap: false, data: labels, splitLine: { show: false } },
    yAxis: { type: "value", min: 0 },
    series,
  };
}

export function BacktestChart({
  points,
  variables,
  interval,
  timeZone,
  loading,
  error,
  onRetry,
  badge,
}: {
  points: BacktestPoint[] | undefined;
  /** The variables of the backtestAlert query the points answer (null while the rule is incomplete). */
  variables: Record<string, unknown> | null;
  interval: AlertInterval;
  timeZone: string;
  loading: boolean;
  error: CombinedError | undefined;
  onRetry: () => void;
  badge?: ReactNode;
}) {
  const table = useMemo(() => backtestTable(points ?? []), [points]);
  const csv = useMemo<CsvExport | null>(() => (variables ? { name: "backtest", variables } : null), [variables]);
  // The colours are the theme's CSS variables, current only after render (the theme's layout
  // effect sets <html data-theme>): build the option in an effect, again when the theme changes.
  const { resolved } = useTheme();
  const [chartOption, setChartOption] = useState<ChartOption>({});
  useEffect(() => setChartOption(option(points ?? [], interval, timeZone)), [points, interval, timeZone, resolved]);
  // Nothing to judge: no settings yet (no points, not loading), or a series without events.
  const empty = points === undefined ? !loading && !error : points.every((p) => p.value === 0);
  return (
    <Chart title="Backtest" option={chartOption} table={table} csv={csv} height={300} loading={loading && !points}
      error={error ?? null} onRetry={onRetry} empty={empty} badge={badge}
      emptyMessage={points === undefined
        ? "Complete the rule's settings to see when it would have fired."
        : "The series has no events in this range: nothing to judge yet."} />
  );
}
