/**
 * Funnels: 2 to 10 ordered steps (each an event with optional filters of its own), a conversion
 * window, ORDERED or STRICT, a date range, filters and an optional breakdown. Shows persons per
 * step, conversion from the start and from the previous step, and the time between steps, kept
 * current by `liveFunnel`; a step's drop-off count opens the persons who dropped off there. The
 * builder lives in the URL query string.
 */
import { useMemo, useState } from "react";
import { gql } from "urql";
import { PageHeader } from "../components/PageHeader";
import { useLiveQuery } from "../lib/live";
import { useProject } from "../lib/project";
import { useClock } from "../lib/timers";
import { BreakdownControl } from "./insights/BreakdownControl";
import { useDefinitions } from "./insights/definitions";
import {
  filterInputs,
  readBreakdown,
  readFilters,
  readJson,
  readRange,
  resolveRange,
  WINDOW_UNITS,
  writeBreakdown,
  writeFilters,
  writeRange,
} from "./insights/params";
import { PropertyFilters } from "./insights/PropertyFilters";
import { useUrlParams } from "./insights/useUrlParams";
import { RangeControl } from "./insights/RangeControl";
import { Dropoffs, type DropoffArgs } from "./funnels/Dropoffs";
import { FunnelResult } from "./funnels/FunnelResult";
import {
  DEFAULT_WINDOW,
  isStepList,
  MAX_STEPS,
  MAX_WINDOW,
  MIN_STEPS,
  type Funnel,
  type FunnelMode,
  type StepSpec,
} from "./funnels/model";

const ARGS = `$projectId: ID!, $steps: [FunnelStepInput!]!, $dateRange: DateRangeInput!, $windowSeconds: Int!,
  $mode: FunnelMode!, $filters: [PropertyFilterInput!], $breakdown: BreakdownInput, $breakdownLimit: Int!`;
const CALL = `projectId: $projectId, steps: $steps, dateRange: $dateRange, windowSeconds: $windowSeconds, mode: $mode,
  filters: $filters, breakdown: $breakdown, breakdownLimit: $breakdownLimit`;
const STEP = "event persons conversionFromStart conversionFromPrevious medianSecondsFromPrevious averageSecondsFromPrevious";
const FIELDS = `steps { ${STEP} } breakdownGroups { breakdownValue isOther steps { ${STEP} } }`;
const FUNNEL = gql`query FunnelResult(${ARGS}) { funnel(${CALL}) { ${FIELDS} } }`;
const LIVE_FUNNEL = gql`subscription FunnelLive(${ARGS}) { liveFunnel(${CALL}) { ${FIELDS} } }`;

const DEFAULT_STEPS: StepSpec[] = [{ event: "", filters: [] }, { event: "", filters: [] }];
const DEFAULT_RANGE = "30d";

function readSteps(params: URLSearchParams): StepSpec[] {
  return readJson(params, "steps", isStepList, DEFAULT_STEPS).map((s) => ({ event: s.event, filters: s.filters ?? [] }));
}

function WindowControl({ seconds, onChange }: { seconds: number; onChange: (seconds: number) => void }) {
  const unit = [...WINDOW_UNITS].reverse().find((u) => seconds % u.seconds === 0) ?? WINDOW_UNITS[0]!;
  const [draft, setDraft] = useState<string | null>(null);
  const amount = draft ?? String(seconds / unit.seconds);
  const commit = (value: string, unitSeconds: number) => {
    setDraft(null);
    const next = Math.round(Number(value) * unitSeconds);
    if (Number.isFinite(next) && next >= 60 && next <= MAX_WINDOW && next !== seconds) onChange(next);
  };
  return (
    <label className="ins-inline-label">
      within
      <input className="input ins-limit" type="number" min={1} aria-label="Conversion window" value={amount}
        onChange={(e) => setDraft(e.target.value)} onBlur={(e) => commit(e.target.value, unit.seconds)}
        onKeyDown={(e) => {
          if (e.key === "Enter") commit(e.currentTarget.value, unit.seconds);
        }} />
      <select aria-label="Conversion window unit" value={unit.id}
        onChange={(e) => commit(amount, WINDOW_UNITS.find((u) => u.id === e.target.value)?.seconds ?? 86_400)}>
        {WINDOW_UNITS.map((u) => <option key={u.id} value={u.id}>{u.label}</option>)}
      </select>
    </label>
  );
}

export default function FunnelsPage() {
  const project = useProject();
  const definitions = useDefinitions(project.id);
  const { search, update } = useUrlParams();
  const [stepFiltersOpen, setStepFiltersOpen] = useState<Set<number>>(new Set());

  const state = useMemo(() => {
    const p = new URLSearchParams(search);
    const windowSeconds = Number(p.get("window") ?? DEFAULT_WINDOW);
    const dropoff = Number(p.get("dropoff"));
    return {
      steps: readSteps(p),
      windowSeconds: Number.isInteger(windowSeconds) && windowSeconds >= 1 && windowSeconds <= MAX_WINDOW ? windowSeconds : DEFAULT_WINDOW,
      mode: (p.get("mode") === "STRICT" ? "STRICT" : "ORDERED") as FunnelMode,
      range: readRange(p, DEFAULT_RANGE),
      filters: readFilters(p),
      breakdown: readBreakdown(p),
      dropoff: Number.isInteger(dropoff) && dropoff >= 2 ? dropoff : null,
    };
  }, [search]);

  // Step edits apply to the latest URL (not the last render), so quick successive edits all stick.
  const setSteps = (change: (steps: StepSpec[]) => StepSpec[]) => update((p) => {
    p.set("steps", JSON.stringify(change(readSteps(p))));
    p.delete("dropoff");
  });
  const editStep = (index: number, change: Partial<StepSpec>) =>
    setSteps((steps) => steps.map((s, i) => (i === index ? { ...s, ...change } : s)));
  const moveStep = (index: number, by: number) =>
    setSteps((current) => {
      const steps = [...current];
      const [step] = steps.splice(index, 1);
      if (step) steps.splice(index + by, 0, step);
      return steps;
    });

  const clock = useClock(60_000);
  const resolved = resolveRange(state.range, project.timezone, new Date(clock));
  const dateRange = useMemo(() => ({ from: resolved.from, to: resolved.to }), [resolved.from, resolved.to]);

  const missing = state.steps.findIndex((s) => !s.event);
  const problem =
    missing >= 0
      ? `Pick the event of step ${missing + 1}.`
      : new Date(dateRange.from) >= new Date(dateRange.to) ? "The range must end after it starts." : null;

  const base: DropoffArgs = useMemo(
    () => ({
      projectId: project.id,
      steps: state.steps.map((s) => ({ event: s.event, filters: filterInputs(s.filters) })),
      dateRange,
      windowSeconds: state.windowSeconds,
      mode: state.mode,
      filters: state.filters.length ? filterInputs(state.filters) : null,
    }),
    [project.id, state.steps, state.windowSeconds, state.mode, state.filters, dateRange],
  );
  const variables = useMemo(
    () => ({
      ...base,
      breakdown: state.breakdown ? { key: state.breakdown.key, type: state.breakdown.type } : null,
      breakdownLimit: state.breakdown?.limit ?? 10,
    }),
    [base, state.breakdown],
  );
  const funnel = useLiveQuery<Funnel | undefined, { funnel: Funnel }, { liveFunnel: Funnel } | null>({
    query: FUNNEL,
    subscription: LIVE_FUNNEL,
    variables,
    fromQuery: (d) => d.funnel,
    // A refused subscription answers data: null (with its error): nothing to show then.
    fromSubscription: (d) => d?.liveFunnel,
    pause: problem !== null,
  });
  const version = useMemo(() => JSON.stringify(funnel.data?.steps ?? null), [funnel.data]);

  const eventOptions = (current: string) =>
    current && !definitions.events.includes(current) ? [current, ...definitions.events] : definitions.events;
  const dropoffStep = state.dropoff !== null && state.dropoff <= state.steps.length ? state.dropoff : null;
  const steps = funnel.data?.steps;

  return (
    <div className="page" data-range-from={dateRange.from} data-range-to={dateRange.to}>
      <PageHeader title="Funnels" description={<>How persons of {project.name} move through steps · times in {project.timezone}</>} />

      <section className="card ins-builder" aria-label="Funnel builder">
        <div className="ins-section">
          <div className="ins-section-title">Steps</div>
          <ol className="fun-steps">
            {state.steps.map((step, index) => {
              const n = index + 1;
              const open = stepFiltersOpen.has(index) || step.filters.length > 0;
              return (
                <li className="fun-step" key={index} data-testid="funnel-step">
                  <div className="ins-series-row">
                    <span className="fun-step-number" aria-hidden="true">{n}</span>
                    <select aria-label={`Event of step ${n}`} value={step.event} onFocus={definitions.refresh}
                      onChange={(e) => editStep(index, { event: e.target.value })}>
                      <option value="" disabled>Choose an event…</option>
                      {eventOptions(step.event).map((name) => <option key={name} value={name}>{name}</option>)}
                    </select>
                    {!open ? (
                      <button type="button" className="button button-small button-ghost ins-add"
                        onClick={() => setStepFiltersOpen(new Set(stepFiltersOpen).add(index))}>
                        + Filter this step
                      </button>
                    ) : null}
                    <span className="fun-step-actions">
                      <button type="button" className="button button-ghost button-small" aria-label={`Move step ${n} up`}
                        disabled={index === 0} onClick={() => moveStep(index, -1)}>↑</button>
                      <button type="button" className="button button-ghost button-small" aria-label={`Move step ${n} down`}
                        disabled={index === state.steps.length - 1} onClick={() => moveStep(index, 1)}>↓</button>
                      <button type="button" className="button button-ghost button-small ins-remove" aria-label={`Remove step ${n}`}
                        disabled={state.steps.length <= MIN_STEPS}
                        onClick={() => setSteps((steps) => steps.filter((_, i) => i !== index))}>×</button>
                    </span>
                  </div>
                  {open ? (
                    <div className="fun-step-filters">
                      <PropertyFilters filters={step.filters} propertyKeys={definitions.propertyKeys}
                        label={`Filters of step ${n}`} addLabel="Add step filter"
                        onChange={(filters) => editStep(index, { filters })} />
                    </div>
                  ) : null}
                </li>
              );
            })}
          </ol>
          <button type="button" className="button button-small button-ghost ins-add" disabled={state.steps.length >= MAX_STEPS}
            onClick={() => setSteps((steps) => [...steps, { event: "", filters: [] }])}>
            + Add step
          </button>
        </div>

        <div className="ins-section">
          <div className="ins-section-title">Filters</div>
          <PropertyFilters filters={state.filters} propertyKeys={definitions.propertyKeys}
            onChange={(filters) => update((p) => {
              writeFilters(p, filters);
              p.delete("dropoff");
            })} />
        </div>

        <div className="ins-section">
          <div className="ins-section-title">Breakdown</div>
          <BreakdownControl value={state.breakdown} propertyKeys={definitions.propertyKeys}
            onChange={(breakdown) => update((p) => writeBreakdown(p, breakdown))} />
        </div>

        <div className="ins-toolbar">
          <RangeControl value={state.range} resolved={dateRange} timeZone={project.timezone}
            onChange={(range) => update((p) => {
              writeRange(p, range);
              p.delete("dropoff");
            })} />
          <WindowControl seconds={state.windowSeconds} onChange={(seconds) => update((p) => {
            p.set("window", String(seconds));
            p.delete("dropoff");
          })} />
          <div className="ins-seg" role="group" aria-label="Step order">
            {(["ORDERED", "STRICT"] as const).map((mode) => (
              <button key={mode} type="button" aria-pressed={state.mode === mode}
                className={state.mode === mode ? "active" : undefined}
                title={mode === "ORDERED" ? "Other events may happen between steps" : "Each step must be the very next event"}
                onClick={() => update((p) => {
                  if (mode === "ORDERED") p.delete("mode");
                  else p.set("mode", mode);
                  p.delete("dropoff");
                })}>
                {mode === "ORDERED" ? "Ordered" : "Strict"}
              </button>
            ))}
          </div>
        </div>
      </section>

      {problem ? (
        <div className="alert alert-info" role="status">{problem}</div>
      ) : (
        <>
          <FunnelResult
            funnel={funnel.data}
            variables={variables}
            loading={funnel.fetching}
            error={funnel.error}
            onRetry={funnel.retry}
            badge={funnel.live ? <span className="badge badge-live" data-testid="live-badge">live</span> : null}
            selectedDropoff={dropoffStep}
            breakdownKey={state.breakdown?.key ?? null}
            onDropoff={(step) => update((p) => p.set("dropoff", String(step)))}
          />
          {dropoffStep !== null && steps ? (
            <Dropoffs
              args={base}
              step={dropoffStep}
              fromEvent={state.steps[dropoffStep - 2]?.event ?? ""}
              toEvent={state.steps[dropoffStep - 1]?.event ?? ""}
              expected={(steps[dropoffStep - 2]?.persons ?? 0) - (steps[dropoffStep - 1]?.persons ?? 0)}
              version={version}
              onClose={() => update((p) => p.delete("dropoff"))}
            />
          ) : null}
        </>
      )}
    </div>
  );
}
