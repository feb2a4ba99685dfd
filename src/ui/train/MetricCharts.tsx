import { memo, startTransition, useEffect, useMemo, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { settingsSummary, useTrain, type StepPoint, type TrainRun } from '../../state/trainStore';

export const RUN_COLOURS = ['#2d6cdf', '#d9480f', '#2b8a3e', '#9c36b5', '#e67700', '#0b7285', '#c2255c', '#495057'];

/** A run's colour: fixed by its place in the run list, so it never changes while runs are added. */
export function runColour(runs: TrainRun[], id: string): string {
  const i = runs.findIndex((r) => r.id === id);
  return RUN_COLOURS[(i < 0 ? 0 : i) % RUN_COLOURS.length];
}

type MetricKey = keyof StepPoint;

interface ChartSpec {
  key: MetricKey;
  title: string;
  /** draw mean ± this key as dashed lines */
  spread?: MetricKey;
}

const CHARTS: ChartSpec[] = [
  { key: 'loss', title: 'loss' },
  { key: 'rewards/chosen', title: 'rewards/chosen' },
  { key: 'rewards/rejected', title: 'rewards/rejected' },
  { key: 'rewards/margins', title: 'rewards/margins' },
  { key: 'rewards/accuracies', title: 'rewards/accuracies' },
  { key: 'lr', title: 'learning rate' },
  { key: 'aspo/weight_mean', title: 'aspo/weight_mean (± std)', spread: 'aspo/weight_std' },
];

type Row = Record<string, number | null>;

function slug(key: string) {
  return key.replace(/[^a-z0-9]+/gi, '-');
}

function fmt(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(4);
}

/** One metric, every overlaid run as a line (one colour per run); steps on x. Memoised on its runs' histories. */
const MetricChart = memo(function MetricChart({ spec, runs, colours, activeId }: { spec: ChartSpec; runs: TrainRun[]; colours: string[]; activeId: string | null }) {
  const data = useMemo(() => {
    const byStep = new Map<number, Row>();
    for (const run of runs) {
      for (const p of run.history) {
        let row = byStep.get(p.step);
        if (!row) byStep.set(p.step, (row = { step: p.step }));
        const v = p[spec.key] as number;
        row[run.id] = Number.isFinite(v) ? v : null; // a skipped (non-finite) step leaves a gap
        if (spec.spread) {
          const sd = p[spec.spread] as number;
          row[`${run.id}+`] = Number.isFinite(v + sd) ? v + sd : null;
          row[`${run.id}-`] = Number.isFinite(v - sd) ? v - sd : null;
        }
      }
    }
    return [...byStep.values()].sort((a, b) => (a.step as number) - (b.step as number));
  }, [runs, spec]);
  const active = runs.find((r) => r.id === activeId) ?? runs[runs.length - 1];
  const activeValues = active ? active.history.map((p) => p[spec.key] as number) : [];
  return (
    <figure
      className="train-chart"
      data-testid={`chart-${slug(spec.key)}`}
      data-series-length={activeValues.length}
      data-series={runs.map((r) => `${r.id}:${r.history.length}`).join(',')}
      data-values={JSON.stringify(activeValues)}
      aria-label={`${spec.title} per step${active ? `, ${activeValues.length} steps of ${active.name}, last ${fmt(activeValues[activeValues.length - 1])}` : ''}`}
    >
      <figcaption>{spec.title}</figcaption>
      <ResponsiveContainer width="100%" height={190}>
        <LineChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e3e7ec" />
          <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} allowDecimals={false} tick={{ fontSize: 11 }} />
          <YAxis tick={{ fontSize: 11 }} width={56} tickFormatter={fmt} domain={['auto', 'auto']} />
          <Tooltip formatter={(v) => fmt(v)} labelFormatter={(s) => `step ${s}`} isAnimationActive={false} />
          <Legend wrapperStyle={{ fontSize: 11 }} />
          {runs.map((run, i) => (
            <Line
              key={run.id}
              dataKey={run.id}
              name={`${run.name}: ${settingsSummary(run.settings)} · ${run.data}×${run.pairs}`}
              stroke={colours[i]}
              strokeWidth={2}
              dot={false}
              isAnimationActive={false}
              connectNulls={false}
            />
          ))}
          {spec.spread &&
            runs.flatMap((run, i) =>
              ['+', '-'].map((sign) => (
                <Line
                  key={`${run.id}${sign}`}
                  dataKey={`${run.id}${sign}`}
                  name={`${run.name} ${sign === '+' ? '+' : '−'} std`}
                  legendType="none"
                  stroke={colours[i]}
                  strokeDasharray="4 3"
                  strokeWidth={1}
                  dot={false}
                  isAnimationActive={false}
                />
              )),
            )}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
});

/**
 * The live charts of the runs ticked in the run list. They follow the store through a transition: React renders
 * them in slices that yield to the browser, so a step's redraw of seven charts never blocks the page for long.
 */
export function MetricCharts() {
  const [view, setView] = useState(() => {
    const s = useTrain.getState();
    return { runs: s.runs, overlay: s.overlay, activeId: s.activeId };
  });
  useEffect(
    () =>
      useTrain.subscribe((s) => {
        if (s.runs === view.runs && s.overlay === view.overlay && s.activeId === view.activeId) return;
        startTransition(() => setView({ runs: s.runs, overlay: s.overlay, activeId: s.activeId }));
      }),
    [view],
  );
  const { runs: allRuns, overlay, activeId } = view;
  const runs = useMemo(() => allRuns.filter((r) => overlay.includes(r.id)), [allRuns, overlay]);
  const colours = useMemo(() => runs.map((r) => runColour(allRuns, r.id)), [runs, allRuns]);
  if (runs.length === 0) return <p className="train-hint">Start a run, or tick runs in the list, to see their metrics here.</p>;
  return (
    <div className="train-charts" data-testid="train-charts" data-runs={runs.map((r) => r.id).join(',')}>
      {CHARTS.map((spec) => (
        <MetricChart key={spec.key} spec={spec} runs={runs} colours={colours} activeId={activeId} />
      ))}
    </div>
  );
}
