/**
 * A funnel's answer: headline numbers, persons per step as bars (one bar per breakdown value when
 * broken down), and the table of conversions and times, whose drop-off counts open the persons
 * who dropped off.
 */
import { useMemo, type ReactNode } from "react";
import type { CombinedError } from "urql";
import { Chart } from "../../components/Chart";
import { KpiCard } from "../../components/KpiCard";
import type { Table } from "../../lib/csv";
import type { ChartOption } from "../../lib/echarts";
import type { CsvExport } from "../../lib/exports";
import { formatCount, formatDuration, formatPercent } from "../../lib/format";
import { cssVar } from "../../lib/theme";
import { groupName, type Funnel, type FunnelStep } from "./model";

function stepLabel(step: FunnelStep, index: number): string {
  return `${index + 1}. ${step.event}`;
}

function funnelTable(funnel: Funnel | undefined): Table {
  const rows = (name: string, steps: FunnelStep[]) =>
    steps.map((s, i) => [
      name, i + 1, s.event, s.persons, s.conversionFromStart, s.conversionFromPrevious,
      s.medianSecondsFromPrevious, s.averageSecondsFromPrevious,
    ]);
  return {
    header: [
      "breakdown", "step", "event", "persons", "conversionFromStart", "conversionFromPrevious",
      "medianSecondsFromPrevious", "averageSecondsFromPrevious",
    ],
    rows: funnel
      ? [...rows("All", funnel.steps), ...funnel.breakdownGroups.flatMap((g) => rows(groupName(g), g.steps))]
      : [],
  };
}

function funnelOption(funnel: Funnel | undefined): ChartOption {
  const steps = funnel?.steps ?? [];
  const groups = funnel?.breakdownGroups ?? [];
  const labels = steps.map(stepLabel);
  const tooltip = {
    trigger: "axis",
    axisPointer: { type: "shadow" },
    valueFormatter: (value: unknown) => formatCount(Number(value)),
  };
  if (groups.length) {
    return {
      tooltip,
      legend: {
        show: true, type: "scroll", top: 0, left: 0, right: 0, icon: "roundRect", itemWidth: 10, itemHeight: 10,
        textStyle: { color: cssVar("--text-muted") }, pageTextStyle: { color: cssVar("--text-muted") },
      },
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: labels, splitLine: { show: false } },
      yAxis: { type: "value", minInterval: 1 },
      series: groups.map((g) => ({
        name: groupName(g), type: "bar", data: g.steps.map((s) => s.persons), barMaxWidth: 36,
        itemStyle: { borderRadius: [3, 3, 0, 0] },
      })),
    };
  }
  const accent = cssVar("--chart-1");
  const soft = cssVar("--border");
  return {
    tooltip,
    grid: { left: 8, right: 16, top: 28, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: labels, splitLine: { show: false } },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      {
        name: "Persons", type: "bar", stack: "persons", barMaxWidth: 96, z: 3,
        data: steps.map((s) => s.persons),
        itemStyle: { color: accent },
        label: {
          show: true, position: "insideTop", color: cssVar("--accent-contrast"), fontWeight: 600,
          formatter: (p: { dataIndex: number }) => formatPercent(steps[p.dataIndex]?.conversionFromStart ?? 0, 0),
        },
      },
      {
        name: "Dropped off", type: "bar", stack: "persons", barMaxWidth: 96,
        data: steps.map((s, i) => (i === 0 ? 0 : (steps[i - 1]?.persons ?? 0) - s.persons)),
        itemStyle: { color: soft, borderRadius: [3, 3, 0, 0] },
        silent: true,
      },
    ],
  };
}

export function FunnelResult({
  funnel,
  variables,
  loading,
  error,
  onRetry,
  badge,
  selectedDropoff,
  onDropoff,
  breakdownKey,
}: {
  funnel: Funnel | undefined;
  /** The variables of the funnel query answered: the CSV export posts them. */
  variables: Record<string, unknown>;
  loading: boolean;
  error: CombinedError | undefined;
  onRetry: () => void;
  badge?: ReactNode;
  selectedDropoff: number | null;
  onDropoff: (step: number) => void;
  breakdownKey: string | null;
}) {
  const option = useMemo(() => funnelOption(funnel), [funnel]);
  const table = useMemo(() => funnelTable(funnel), [funnel]);
  const csv = useMemo<CsvExport>(() => ({ name: "funnel", variables }), [variables]);
  const steps = funnel?.steps ?? [];
  const first = steps[0]?.persons;
  const last = steps.at(-1);
  const empty = funnel !== undefined && (first ?? 0) === 0;

  return (
    <>
      <div className="fun-kpis">
        <KpiCard testId="funnel-entered" label="Entered the funnel" loading={!funnel && !error}
          value={formatCount(first)} note={steps[0] ? `did ${steps[0].event}` : undefined} />
        <KpiCard testId="funnel-completed" label="Completed" loading={!funnel && !error}
          value={formatCount(last?.persons)} note={last ? `reached ${last.event}` : undefined} />
        <KpiCard testId="funnel-conversion" label="Overall conversion" loading={!funnel && !error}
          value={last ? formatPercent(last.conversionFromStart) : "–"} note={`${steps.length} steps`} />
      </div>
      <Chart title="Funnel" option={option} table={table} csv={csv} height={300} loading={loading} error={error ?? null}
        onRetry={onRetry} empty={empty} badge={badge}
        emptyMessage="Nobody did the first step in this range yet: the funnel fills in as events arrive." />
      {funnel && !empty ? (
        <section className="card table-card" aria-label="Funnel steps">
          <table className="table fun-table" data-testid="funnel-steps">
            <thead>
              <tr>
                <th>Step</th>
                <th className="numeric">Persons</th>
                <th className="numeric">From start</th>
                <th className="numeric">From previous</th>
                <th className="numeric">Dropped off</th>
                <th className="numeric">Median time</th>
                <th className="numeric">Average time</th>
              </tr>
            </thead>
            <tbody>
              {steps.map((step, index) => {
                const dropped = index === 0 ? 0 : (steps[index - 1]?.persons ?? 0) - step.persons;
                return (
                  <tr key={index} data-step={index + 1} className={selectedDropoff === index + 1 ? "selected" : undefined}>
                    <td>
                      <span className="fun-step-number">{index + 1}</span>
                      <span className="event-name">{step.event}</span>
                    </td>
                    <td className="numeric" data-testid="step-persons">{formatCount(step.persons)}</td>
                    <td className="numeric">
                      <span className="fun-bar" aria-hidden="true"><span style={{ width: `${step.conversionFromStart * 100}%` }} /></span>
                      <span data-testid="step-from-start">{formatPercent(step.conversionFromStart)}</span>
                    </td>
                    <td className="numeric" data-testid="step-from-previous">{index === 0 ? "–" : formatPercent(step.conversionFromPrevious)}</td>
                    <td className="numeric">
                      {index === 0 ? "–" : dropped > 0 ? (
                        <button type="button" className="button button-small fun-dropoff"
                          aria-label={`Show the ${dropped} persons who dropped off before step ${index + 1}`}
                          aria-pressed={selectedDropoff === index + 1} onClick={() => onDropoff(index + 1)}>
                          {formatCount(dropped)} persons
                        </button>
                      ) : <span className="muted">0</span>}
                    </td>
                    <td className="numeric">{formatDuration(step.medianSecondsFromPrevious)}</td>
                    <td className="numeric">{formatDuration(step.averageSecondsFromPrevious)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      ) : null}
      {funnel && !empty && funnel.breakdownGroups.length ? (
        <section className="card table-card" aria-label="Funnel by breakdown">
          <table className="table fun-table" data-testid="funnel-breakdown">
            <thead>
              <tr>
                <th>{breakdownKey ?? "Breakdown"}</th>
                {steps.map((step, index) => <th key={index} className="numeric">{stepLabel(step, index)}</th>)}
                <th className="numeric">Conversion</th>
              </tr>
            </thead>
            <tbody>
              {funnel.breakdownGroups.map((group) => (
                <tr key={`${group.isOther}-${group.breakdownValue}`}>
                  <td>{group.isOther || group.breakdownValue === null ? <span className="muted">{groupName(group)}</span> : groupName(group)}</td>
                  {group.steps.map((s, index) => <td key={index} className="numeric">{formatCount(s.persons)}</td>)}
                  <td className="numeric"><strong>{formatPercent(group.steps.at(-1)?.conversionFromStart)}</strong></td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </>
  );
}
