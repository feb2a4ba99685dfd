/**
 * Training runs and the training form, persisted (localStorage: a run's metrics are a few numbers per step),
 * so that after a reload every run, its settings and its metrics history are still there; the adapters and the
 * optimizer state live in the worker's IndexedDB checkpoints (`src/train/checkpointStore.ts`).
 *
 * A run's `history` grows by one `StepPoint` per StepReport (TRL metric names). Components subscribe to the
 * slices they draw, so a step re-renders the charts and the status line, not the page.
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import type { BatchMetrics } from '../aspo/objective';
import { DEFAULT_COMPARE, type CompareOptions, type Comparison, type ModelSpec, type RunStatus } from '../train/client';
import { DEFAULT_TRAIN_SETTINGS, type TrainSettings } from '../train/settings';
import type { StepReport } from '../train/optimizerStep';
import { SANDBOX_TRAIN_SIZE } from '../sandbox/preferences';

/** One step of a run, as charted: the StepReport's metrics (TRL names) plus lr, grad norm, skip flag, time. */
export type StepPoint = BatchMetrics & {
  step: number;
  lr: number;
  grad_norm: number;
  skipped: boolean;
  ms: number;
};

export type RunData = 'sandbox' | 'inspector';

/** Status as shown: a run that was running when the page went away is 'interrupted' (resumable from its checkpoint). */
export type RunState = RunStatus | 'interrupted';

export interface TrainRun {
  id: string;
  name: string;
  createdAt: number;
  settings: TrainSettings;
  data: RunData;
  /** training pairs the run uses */
  pairs: number;
  model: ModelSpec;
  status: RunState;
  totalSteps: number | null;
  history: StepPoint[];
  /** steps whose update was skipped (non-finite loss or gradient), with the reason */
  skipped: { step: number; reason: string }[];
  /** notices of the run: truncations, pairs left out, resumes, errors (deduplicated, newest last) */
  notices: string[];
  /** step of the last checkpoint saved in IndexedDB (0: none) */
  checkpointStep: number;
  stepsPerSec: number | null;
  etaMs: number | null;
  prepare: { done: number; total: number } | null;
}

export type FormSettings = TrainSettings & { steps: number };

export interface TrainState {
  form: FormSettings;
  checkpointEvery: number;
  data: RunData;
  /** how many of the SANDBOX_TRAIN_SIZE sandbox training pairs a sandbox run uses (fewer prepare faster) */
  sandboxCount: number;
  runs: TrainRun[];
  /** run ids drawn in the charts */
  overlay: string[];
  /** the run the controls act on */
  activeId: string | null;
  comparison: Comparison | null;
  /** what "Before and after" runs (prompts, new tokens, held-out pairs) */
  compareOptions: CompareOptions;
  setForm: (patch: Partial<FormSettings>) => void;
  setLora: (patch: Partial<TrainSettings['lora']>) => void;
  resetForm: () => void;
  setCheckpointEvery: (n: number) => void;
  setData: (data: RunData) => void;
  setSandboxCount: (n: number) => void;
  addRun: (run: Omit<TrainRun, 'history' | 'skipped' | 'notices' | 'checkpointStep' | 'stepsPerSec' | 'etaMs' | 'prepare' | 'status' | 'totalSteps'>) => void;
  patchRun: (id: string, patch: Partial<TrainRun>) => void;
  addStep: (id: string, report: StepReport, stepsPerSec: number, etaMs: number) => void;
  /** Drops steps after `step` (a resume from an older checkpoint recomputes them). */
  truncateHistory: (id: string, step: number) => void;
  addNotices: (id: string, notices: string[]) => void;
  removeRun: (id: string) => void;
  toggleOverlay: (id: string) => void;
  setActive: (id: string | null) => void;
  setComparison: (c: Comparison | null) => void;
  setCompareOptions: (patch: Partial<CompareOptions>) => void;
}

export const DEFAULT_FORM: FormSettings = { ...structuredClone(DEFAULT_TRAIN_SETTINGS), steps: 30, epochs: null };

export function pointOf(report: StepReport): StepPoint {
  return { ...report.metrics, step: report.step, lr: report.lr, grad_norm: report.gradNorm, skipped: !!report.skipped, ms: report.ms };
}

/** A short name for the run's method: DPO, ASPO-S (α=1), ASPO-P (α=0), ASPO-S+P (α in between). */
export function methodName(s: Pick<TrainSettings, 'objective' | 'alpha'>): string {
  if (s.objective === 'dpo') return 'DPO';
  if (s.alpha === 1) return 'ASPO-S';
  if (s.alpha === 0) return 'ASPO-P';
  return `ASPO-S+P (α=${s.alpha})`;
}

/** The settings that tell runs apart, in one line (the chart legend). */
export function settingsSummary(s: TrainSettings): string {
  const parts = [methodName(s), `β=${s.beta}`];
  if (s.objective === 'aspo') parts.push(s.normalization, s.granularity, `ppl:${s.perplexitySource}`);
  parts.push(`r=${s.lora.r}/${s.lora.alpha}`, `lr=${s.lr}`, `bs=${s.batchSize}`, `seed=${s.seed}`);
  return parts.join(' · ');
}

function mapRun(runs: TrainRun[], id: string, f: (r: TrainRun) => TrainRun): TrainRun[] {
  return runs.map((r) => (r.id === id ? f(r) : r));
}

const MAX_NOTICES = 50;

/** The saved form's version: 2 is the 64×64 sandbox world (version 1's sandbox runs trained on the 32×32 one). */
const TRAIN_STORE_VERSION = 2;

export const OLD_SANDBOX_NOTICE =
  'this run trained on the 32×32 sandbox of an older version, which the app no longer has: its metrics stay, but it cannot be resumed or compared (start a new run on today’s sandbox)';

/**
 * A state saved by version 1: its sandbox runs name pictures and pairs that no longer exist, so a resumable one is
 * marked stopped with a notice saying why (resuming would refuse its checkpoint's data); the sandbox pair count is
 * kept within today's set.
 */
export function migrateTrainState(saved: Partial<TrainState>, version: number): Partial<TrainState> {
  if (version >= TRAIN_STORE_VERSION) return saved;
  const runs = (saved.runs ?? []).map((r) => {
    if (r.data !== 'sandbox') return r;
    const ended = r.status === 'done' || r.status === 'stopped' || r.status === 'error';
    return { ...r, status: ended ? r.status : ('stopped' as const), notices: [...r.notices, OLD_SANDBOX_NOTICE].slice(-MAX_NOTICES) };
  });
  const count = saved.sandboxCount;
  return { ...saved, runs, sandboxCount: typeof count === 'number' ? Math.max(1, Math.min(SANDBOX_TRAIN_SIZE, Math.round(count))) : SANDBOX_TRAIN_SIZE };
}

export const useTrain = create<TrainState>()(
  persist(
    (set) => ({
      form: DEFAULT_FORM,
      checkpointEvery: 5,
      data: 'sandbox',
      sandboxCount: SANDBOX_TRAIN_SIZE,
      runs: [],
      overlay: [],
      activeId: null,
      comparison: null,
      compareOptions: { ...DEFAULT_COMPARE },
      setForm: (patch) => set((s) => ({ form: { ...s.form, ...patch } })),
      setLora: (patch) => set((s) => ({ form: { ...s.form, lora: { ...s.form.lora, ...patch } } })),
      resetForm: () => set({ form: structuredClone(DEFAULT_FORM) }),
      setCheckpointEvery: (n) => set({ checkpointEvery: n }),
      setData: (data) => set({ data }),
      setSandboxCount: (sandboxCount) => set({ sandboxCount }),
      addRun: (run) =>
        set((s) => ({
          runs: [
            ...s.runs,
            { ...run, status: 'preparing', totalSteps: null, history: [], skipped: [], notices: [], checkpointStep: 0, stepsPerSec: null, etaMs: null, prepare: null },
          ],
          overlay: [...s.overlay, run.id],
          activeId: run.id,
        })),
      patchRun: (id, patch) => set((s) => ({ runs: mapRun(s.runs, id, (r) => ({ ...r, ...patch })) })),
      addStep: (id, report, stepsPerSec, etaMs) =>
        set((s) => ({
          runs: mapRun(s.runs, id, (r) => {
            const history = r.history.filter((p) => p.step < report.step);
            history.push(pointOf(report));
            const skipped = report.skipped ? [...r.skipped.filter((k) => k.step !== report.step), { step: report.step, reason: report.skipped }] : r.skipped;
            const fresh = report.notices.filter((n) => !r.notices.includes(n));
            return {
              ...r,
              history,
              skipped,
              notices: fresh.length ? [...r.notices, ...fresh].slice(-MAX_NOTICES) : r.notices,
              stepsPerSec,
              etaMs,
              status: 'running',
              prepare: null,
            };
          }),
        })),
      truncateHistory: (id, step) =>
        set((s) => ({
          runs: mapRun(s.runs, id, (r) => ({ ...r, history: r.history.filter((p) => p.step <= step), skipped: r.skipped.filter((k) => k.step <= step) })),
        })),
      addNotices: (id, notices) =>
        set((s) => ({
          runs: mapRun(s.runs, id, (r) => {
            const fresh = notices.filter((n) => !r.notices.includes(n));
            return fresh.length ? { ...r, notices: [...r.notices, ...fresh].slice(-MAX_NOTICES) } : r;
          }),
        })),
      removeRun: (id) =>
        set((s) => ({
          runs: s.runs.filter((r) => r.id !== id),
          overlay: s.overlay.filter((o) => o !== id),
          activeId: s.activeId === id ? null : s.activeId,
        })),
      toggleOverlay: (id) => set((s) => ({ overlay: s.overlay.includes(id) ? s.overlay.filter((o) => o !== id) : [...s.overlay, id] })),
      setActive: (id) => set({ activeId: id }),
      setComparison: (comparison) => set({ comparison }),
      setCompareOptions: (patch) => set((s) => ({ compareOptions: { ...s.compareOptions, ...patch } })),
    }),
    {
      name: 'aspo-workbench/train',
      version: TRAIN_STORE_VERSION,
      migrate: (persisted, version) => migrateTrainState((persisted ?? {}) as Partial<TrainState>, version) as never,
      storage: createJSONStorage(() => globalThis.localStorage),
      partialize: (s) => ({
        form: s.form,
        checkpointEvery: s.checkpointEvery,
        data: s.data,
        sandboxCount: s.sandboxCount,
        compareOptions: s.compareOptions,
        runs: s.runs,
        overlay: s.overlay,
        activeId: s.activeId,
      }),
      // A run that was preparing or running when the page went away resumes from its checkpoint.
      merge: (persisted, current) => {
        const p = (persisted ?? {}) as Partial<TrainState>;
        const runs = (p.runs ?? []).map((r) =>
          r.status === 'running' || r.status === 'preparing'
            ? {
                ...r,
                status: 'interrupted' as const,
                stepsPerSec: null,
                etaMs: null,
                prepare: null,
                notices: [
                  ...r.notices,
                  `interrupted by a reload at step ${r.history.length ? r.history[r.history.length - 1].step : 0}; resuming continues from the checkpoint at step ${r.checkpointStep}`,
                ],
              }
            : r,
        );
        return { ...current, ...p, form: { ...current.form, ...(p.form ?? {}) }, compareOptions: { ...current.compareOptions, ...(p.compareOptions ?? {}) }, runs };
      },
    },
  ),
);
