/**
 * A chart card: ECharts in the current theme, with CSV export (the server's export of the chart's query)
 * and PNG export, and the loading, error and empty states in place of the chart. The data is also in a
 * visually hidden table (for screen readers, and for tests reading what the chart shows).
 */
import { useEffect, useRef, type ReactNode } from "react";
import type { CombinedError } from "urql";
import { download, slug, type Table } from "../lib/csv";
import { echarts, type ChartOption } from "../lib/echarts";
import type { CsvExport } from "../lib/exports";
import { CsvButton } from "./CsvButton";
import { cssVar, useTheme } from "../lib/theme";
import { EmptyState, ErrorState, LoadingState } from "./States";

export interface ChartProps {
  title: string;
  option: ChartOption;
  /** What the chart shows, as rows: the accessible data table. */
  table: Table;
  /** The server export of the chart's query, with its variables: the CSV button downloads it. */
  csv: CsvExport | null;
  height?: number;
  loading?: boolean;
  error?: CombinedError | Error | null;
  onRetry?: () => void;
  empty?: boolean;
  emptyMessage?: ReactNode;
  /** Small text beside the title, e.g. a "live" badge. */
  badge?: ReactNode;
}

/** Colours, fonts and axes of the current theme, merged under the chart's own option. */
function themed(option: ChartOption): ChartOption {
  const text = cssVar("--text-muted");
  const grid = cssVar("--border");
  const palette = [1, 2, 3, 4, 5, 6].map((i) => cssVar(`--chart-${i}`));
  const axis = (axisOption: unknown) =>
    Object.assign(
      {
        axisLine: { lineStyle: { color: grid } },
        axisTick: { show: false },
        axisLabel: { color: text, fontSize: 11 },
        splitLine: { lineStyle: { color: grid, type: "dashed" } },
      },
      axisOption as object,
    );
  return {
    color: palette,
    backgroundColor: "transparent",
    textStyle: { fontFamily: cssVar("--font-sans"), color: text },
    grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
    tooltip: {
      trigger: "axis",
      backgroundColor: cssVar("--surface-raised"),
      borderColor: grid,
      textStyle: { color: cssVar("--text"), fontSize: 12 },
    },
    legend: {
      // One series needs no legend; the card's title names it.
      show: Array.isArray(option["series"]) && option["series"].length > 1,
      textStyle: { color: text }, top: 0, right: 0, icon: "roundRect", itemWidth: 10, itemHeight: 10,
    },
    ...option,
    xAxis: Array.isArray(option["xAxis"]) ? option["xAxis"].map(axis) : axis(option["xAxis"]),
    yAxis: Array.isArray(option["yAxis"]) ? option["yAxis"].map(axis) : axis(option["yAxis"]),
  };
}

export function Chart({
  title,
  option,
  table,
  csv,
  height = 260,
  loading,
  error,
  onRetry,
  empty,
  emptyMessage,
  badge,
}: ChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const instance = useRef<echarts.ECharts | null>(null);
  const { resolved } = useTheme();
  const showChart = !loading && !error && !empty;

  // One ECharts instance per mount and theme (colours come from CSS variables of that theme).
  useEffect(() => {
    if (!showChart || !container.current) return;
    const chart = echarts.init(container.current, undefined, { renderer: "canvas" });
    instance.current = chart;
    const observer = new ResizeObserver(() => chart.resize());
    observer.observe(container.current);
    return () => {
      observer.disconnect();
      chart.dispose();
      instance.current = null;
    };
  }, [showChart, resolved]);

  useEffect(() => {
    instance.current?.setOption(themed(option), { notMerge: true, lazyUpdate: true });
  }, [option, showChart, resolved]);

  const name = slug(title);
  const exportPng = () => {
    const chart = instance.current;
    if (!chart) return;
    download(`${name}.png`, chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: cssVar("--surface") }));
  };

  return (
    <section className="card chart" data-chart={name} aria-label={title}>
      <header className="card-header">
        <h2 className="card-title">
          {title}
          {badge}
        </h2>
        <div className="card-actions">
          <CsvButton csv={csv} disabled={table.rows.length === 0} />
          <button type="button" className="button button-ghost button-small" onClick={exportPng} disabled={!showChart}
            title="Download the chart as a PNG image">
            PNG
          </button>
        </div>
      </header>
      <div className="chart-body" style={{ minHeight: height }}>
        {loading ? <LoadingState /> : null}
        {error ? <ErrorState error={error} onRetry={onRetry} compact /> : null}
        {!loading && !error && empty ? <EmptyState title="No data in this range" compact>{emptyMessage}</EmptyState> : null}
        {showChart ? <div ref={container} className="chart-canvas" style={{ height }} /> : null}
      </div>
      <div className="visually-hidden">
        <table data-testid="chart-data">
          <thead>
            <tr>{table.header.map((cell) => <th key={cell}>{cell}</th>)}</tr>
          </thead>
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
