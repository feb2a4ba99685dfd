/**
 * Benchmark of training (issue 5), measured in one run in Chromium through the harness (harness.html), with the
 * real Trainer (src/train/trainer.ts) on the bundled sandbox pairs:
 *  - ASPO step time over DPO step time (target ≤ 1.05): default ASPO settings (sentence granularity, perplexity from
 *    the policy, α 0.5: the trainer computes the sentence weights inside the gradient pass), the ASPO and DPO steps
 *    interleaved so that machine noise hits both alike;
 *  - step time with cached reference log-probs (the Trainer's normal path) over recomputing them before every step
 *    (the benchmark runs `responseLogprobs(…, false)` of chosen and rejected for the step's pairs first, as a trainer
 *    without the cache would), interleaved too;
 *  - steps per second on WebGPU over the CPU backend;
 *  - all three on the tiny SmolVLM and on a random model with SmolVLM-256M-Instruct's dimensions (one short
 *    text-only pair; one untimed warm-up step, then as many interleaved rounds as fit its allotment, at least one);
 *  - the longest main-thread task during 20 training steps: on the app's Train tab (the worker trains) when it runs,
 *    and on the harness page training on the main thread (the worst case without a worker).
 *
 *   npm run bench:train            (vite build, then this script; it serves dist/ with `vite preview` itself)
 *   BENCH_PARTS=app,m256Cpu npm run bench:train      (only some parts; BENCH_BUDGET_S=… changes the total budget)
 *
 * Prints one JSON object on stdout; progress goes to stderr. Every call has a time cap and the run a total budget;
 * what does not fit is reported as skipped with the reason. Never a timed test.
 */
import type { Page } from 'playwright-core';
import type { BenchModel, TrainerBenchResult, TrainerBenchSetupResult, TrainerBenchVariant } from '../src/harness/protocol';
import { Clock, isSkipped, median, resultHeader, round, Session, skipped, Timeout, withPreview, type Outcome } from './lib/bench';

const clock = new Clock('bench:train');
const log = (message: string) => clock.log(message);

/** Total wall time the measurements may use (the last one started may still run up to its cap). */
const TOTAL_BUDGET_S = Number(process.env.BENCH_BUDGET_S ?? 3600);

/** Parts to run (for debugging one of them): a comma list of tinyWebgpu, tinyCpu, app, m256Webgpu, m256Cpu; default all. */
const PARTS = process.env.BENCH_PARTS?.split(',').map((x) => x.trim());
const selected = async <T>(part: string, fn: () => Promise<Outcome<T>>): Promise<Outcome<T>> =>
  !PARTS || PARTS.includes(part) ? fn() : skipped(`not selected (BENCH_PARTS=${process.env.BENCH_PARTS})`);

const TINY: BenchModel = { kind: 'url', url: '/models/tiny-smolvlm' };
const M256: BenchModel = { kind: 'random-smolvlm-256m', seed: 0 };

const VARIANTS: TrainerBenchVariant[] = [
  { name: 'aspo', objective: 'aspo', reference: 'cached' },
  { name: 'dpo', objective: 'dpo', reference: 'cached' },
  { name: 'aspoRecomputeReference', objective: 'aspo', reference: 'recompute' },
];
/**
 * The tiny model's runs: the first 4 sandbox pairs, one pair per step (batch 1 instead of the default 4): on this
 * machine's SwiftShader WebGPU a pair's forward and backward take seconds, and the ratios do not depend on the batch
 * (a step accumulates its pairs one by one). Everything else is the default settings.
 */
const TINY_PAIRS = 4;
const TINY_SETTINGS = { batchSize: 1 };
/**
 * Warm-up: one round per pair, so that every variant has stepped on every pair (sequence length) once before the
 * clock runs — TF.js WebGPU compiles shaders per shape, and a round steps all variants on the same pair.
 */
const WARMUP_ROUNDS = TINY_PAIRS;
/** Measured rounds: as many as fit the time allotted to a backend (predicted from the warm-up), within these bounds. */
const MIN_ROUNDS = TINY_PAIRS;
const MAX_ROUNDS = 6 * TINY_PAIRS;
const TINY_ALLOTMENT_S: Record<'webgpu' | 'cpu', number> = { webgpu: 150, cpu: 90 };
const LONG_TASK_STEPS = 20;
/** The 256M-shaped model: one pair, responses cut to this many tokens (text only). */
const M256_RESPONSE_TOKENS = 8;
/** Loading and preparing the three trainers (three reference forwards; on WebGPU the first uploads the weights). */
const M256_SETUP_CAP_S: Record<'webgpu' | 'cpu', number> = { webgpu: 900, cpu: 400 };
/** Measured rounds (three steps each) of the 256M model: as many as fit this allotment, within 1 … M256_MAX_ROUNDS. */
const M256_ALLOTMENT_S: Record<'webgpu' | 'cpu', number> = { webgpu: 1200, cpu: 500 };
const M256_MAX_ROUNDS = 5;
/** The app: loading the page, the worker's model and prepare, and the 20 steps. */
const APP_CAP_S = 270;

/** Records every long task (> 50 ms) of the page's main thread; installed before any page script. */
function installLongTaskObserver() {
  const w = window as unknown as { __benchLongTasks: { start: number; duration: number }[] };
  w.__benchLongTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) w.__benchLongTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
}

async function longTasksSince(page: Page, since: number): Promise<{ count: number; longestMs: number | null; totalMs: number }> {
  const tasks = await page.evaluate(
    (t) => (window as unknown as { __benchLongTasks: { start: number; duration: number }[] }).__benchLongTasks.filter((x) => x.start >= t),
    since,
  );
  return {
    count: tasks.length,
    longestMs: tasks.length ? round(Math.max(...tasks.map((x) => x.duration)), 1) : null,
    totalMs: round(tasks.reduce((n, x) => n + x.duration, 0), 1),
  };
}

async function longestTasksSince(page: Page, since: number, n: number): Promise<{ start: number; duration: number }[]> {
  const tasks = await page.evaluate(
    (t) => (window as unknown as { __benchLongTasks: { start: number; duration: number }[] }).__benchLongTasks.filter((x) => x.start >= t),
    since,
  );
  return tasks.sort((x, y) => y.duration - x.duration).slice(0, n);
}

const pageNow = (page: Page) => page.evaluate(() => performance.now());

interface StepStats {
  runsMs: number[];
  medianMs: number;
  stepsPerS: number;
}

function stats(runsMs: number[]): StepStats {
  const m = median(runsMs);
  return { runsMs: runsMs.map((x) => round(x, 1)), medianMs: round(m, 1), stepsPerS: round(1000 / m) };
}

class Runner {
  constructor(readonly session: Session) {}

  /** Runs `fn` unless the budget is spent or `predictedS` exceeds `capS`; a cap exceeded restarts the browser. */
  async guarded<T>(label: string, capS: number, predictedS: number | null, fn: (capS: number) => Promise<T>): Promise<Outcome<T>> {
    const elapsed = clock.elapsedS();
    // The last call started may run past the budget by at most 30 s.
    capS = Math.max(30, Math.min(capS, TOTAL_BUDGET_S + 30 - elapsed));
    if (elapsed + (predictedS ?? 0) > TOTAL_BUDGET_S) {
      const reason = `the benchmark's total budget of ${TOTAL_BUDGET_S} s would be exceeded (${elapsed.toFixed(0)} s spent${predictedS === null ? '' : `, ${predictedS.toFixed(0)} s predicted`})`;
      log(`${label}: skipped, ${reason}`);
      return skipped(reason);
    }
    if (predictedS !== null && predictedS > capS) {
      const reason = `predicted ${predictedS.toFixed(0)} s exceeds the ${capS} s cap`;
      log(`${label}: skipped, ${reason}`);
      return skipped(reason);
    }
    log(`${label}…`);
    try {
      return await fn(capS);
    } catch (err) {
      if (err instanceof Timeout) {
        log(`${label}: ${err.message}; restarting the browser`);
        await this.session.restart();
        return skipped(err.message);
      }
      log(`${label} failed: ${(err as Error).message}`);
      return skipped(`failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Tiny SmolVLM: ASPO vs DPO, cached vs recomputed reference, per backend
// ---------------------------------------------------------------------------

/**
 * The ratios of measured rounds, each of which steps every variant once on the same pair: the median over rounds of
 * the per-round ratio (machine load that drifts over the run hits both steps of a round alike), and, for comparison,
 * the ratio of the medians.
 */
interface RoundRatios {
  aspoOverDpo: number;
  cachedOverRecompute: number;
  ratioOfMedians: { aspoOverDpo: number; cachedOverRecompute: number };
}

function roundRatios(runsMs: Record<string, number[]>): RoundRatios {
  const paired = (a: number[], b: number[]) => round(median(a.map((x, i) => x / b[i])));
  const ofMedians = (a: number[], b: number[]) => round(median(a) / median(b));
  const { aspo, dpo, aspoRecomputeReference: recompute } = runsMs;
  return {
    aspoOverDpo: paired(aspo, dpo),
    cachedOverRecompute: paired(aspo, recompute),
    ratioOfMedians: { aspoOverDpo: ofMedians(aspo, dpo), cachedOverRecompute: ofMedians(aspo, recompute) },
  };
}

/** The measured rounds of one model on one backend. */
interface BackendResult {
  setup: TrainerBenchSetupResult;
  warmupMs: Record<string, number[]>;
  rounds: number;
  steps: Record<string, StepStats>;
  /** Of the recompute variant's step, the median time of the reference forwards alone. */
  recomputeReferenceMedianMs: number;
  losses: Record<string, number[]>;
  skippedSteps: string[];
  memory: { beforeMeasuredSteps: TrainerBenchResult['memoryBefore']; afterMeasuredSteps: TrainerBenchResult['memoryAfter'] };
  ratios: RoundRatios;
}

function backendResult(s: TrainerBenchSetupResult, w: TrainerBenchResult, m: TrainerBenchResult, rounds: number): BackendResult {
  return {
    setup: { ...s, loadMs: round(s.loadMs, 1), prepareMs: Object.fromEntries(Object.entries(s.prepareMs).map(([k, v]) => [k, round(v, 1)])) },
    warmupMs: Object.fromEntries(Object.entries(w.warmupMs).map(([k, v]) => [k, v.map((x) => round(x, 1))])),
    rounds,
    steps: Object.fromEntries(Object.entries(m.runsMs).map(([k, v]) => [k, stats(v)])),
    recomputeReferenceMedianMs: round(median(m.referenceMs.aspoRecomputeReference), 1),
    losses: Object.fromEntries(Object.entries(m.losses).map(([k, v]) => [k, v.map((x) => round(x, 5))])),
    skippedSteps: [...w.skippedSteps, ...m.skippedSteps],
    memory: { beforeMeasuredSteps: m.memoryBefore, afterMeasuredSteps: m.memoryAfter },
    ratios: roundRatios(m.runsMs),
  };
}

async function tinyBackend(runner: Runner, backend: 'webgpu' | 'cpu'): Promise<Outcome<BackendResult>> {
  const h = runner.session;
  const setup = await runner.guarded(`tiny ${backend}: load and prepare (${VARIANTS.length} trainers)`, 120, null, (cap) =>
    h.call(cap, (a) => window.aspoHarness!.benchTrainerSetup(a), { backend, model: TINY, variants: VARIANTS, pairs: TINY_PAIRS, settings: TINY_SETTINGS }),
  );
  if (isSkipped(setup)) return setup as Outcome<BackendResult>;
  const s = setup as TrainerBenchSetupResult;
  log(`tiny ${backend}: ${s.pairs} pairs, prompt ${s.firstPair.promptTokens} tokens, responses ${s.firstPair.chosenTokens}/${s.firstPair.rejectedTokens}; prepare ${Object.values(s.prepareMs).map((x) => x.toFixed(0)).join('/')} ms`);
  const warm = await runner.guarded(`tiny ${backend}: ${WARMUP_ROUNDS} warm-up rounds`, 120, null, (cap) =>
    h.call(cap, (a) => window.aspoHarness!.benchTrainer(a), { rounds: 0, warmupRounds: WARMUP_ROUNDS }),
  );
  if (isSkipped(warm)) return warm as Outcome<BackendResult>;
  const w = warm as TrainerBenchResult;
  // A round's cost, from the last warm-up round (the first includes shader compilation on WebGPU).
  const roundS = Object.values(w.warmupMs).reduce((n, xs) => n + xs[xs.length - 1], 0) / 1000;
  // A whole number of passes over the pairs, so that every pair counts alike.
  const fit = Math.floor(TINY_ALLOTMENT_S[backend] / roundS / TINY_PAIRS) * TINY_PAIRS;
  const rounds = Math.max(MIN_ROUNDS, Math.min(MAX_ROUNDS, fit));
  const measured = await runner.guarded(`tiny ${backend}: ${rounds} measured rounds (≈ ${roundS.toFixed(1)} s each)`, Math.max(60, 3 * rounds * roundS), rounds * roundS, (cap) =>
    h.call(cap, (a) => window.aspoHarness!.benchTrainer(a), { rounds, warmupRounds: 0 }),
  );
  if (isSkipped(measured)) return measured as Outcome<BackendResult>;
  const result = backendResult(s, w, measured as TrainerBenchResult, rounds);
  await h.call(60, () => window.aspoHarness!.benchTrainerUnload(), undefined);
  return result;
}

/** The worst case without a worker: the Trainer stepping on the harness page's main thread (TF.js WebGPU). */
async function harnessLongTasks(runner: Runner): Promise<Outcome<Record<string, unknown>>> {
  const h = runner.session;
  const setup = await runner.guarded('harness: set up one ASPO trainer (tiny, WebGPU) for the main-thread long tasks', 120, null, (cap) =>
    h.call(cap, (a) => window.aspoHarness!.benchTrainerSetup(a), { backend: 'webgpu' as const, model: TINY, variants: [VARIANTS[0]], pairs: TINY_PAIRS, settings: TINY_SETTINGS }),
  );
  if (isSkipped(setup)) return setup as Outcome<Record<string, unknown>>;
  const out = await runner.guarded(`harness: long tasks during ${LONG_TASK_STEPS} ASPO steps on the main thread`, 240, null, async (cap) => {
    const since = await pageNow(h.page);
    const r = await h.call(cap, (a) => window.aspoHarness!.benchTrainer(a), { rounds: LONG_TASK_STEPS, warmupRounds: 0 });
    return {
      where: 'harness page (harness.html): the Trainer steps on the main thread, TF.js WebGPU — the worst case without a worker, not the app',
      steps: LONG_TASK_STEPS,
      settings: `ASPO, default settings except batch ${TINY_SETTINGS.batchSize}, the first ${TINY_PAIRS} sandbox pairs`,
      stepsWallMs: round(r.runsMs.aspo.reduce((n, x) => n + x, 0), 1),
      longTasks: await longTasksSince(h.page, since),
    };
  });
  await h.call(60, () => window.aspoHarness!.benchTrainerUnload(), undefined).catch(() => undefined);
  return out;
}

// ---------------------------------------------------------------------------
// SmolVLM-256M-shaped random model: ASPO vs DPO, cached vs recomputed reference, per backend
// ---------------------------------------------------------------------------

/** Merges measured rounds run one call each (so that every call has its own cap). */
function mergeRounds(results: TrainerBenchResult[]): TrainerBenchResult {
  const merge = (pick: (r: TrainerBenchResult) => Record<string, number[]>) =>
    Object.fromEntries(Object.keys(pick(results[0])).map((k) => [k, results.flatMap((r) => pick(r)[k])]));
  return {
    backend: results[0].backend,
    runsMs: merge((r) => r.runsMs),
    referenceMs: merge((r) => r.referenceMs),
    warmupMs: {},
    losses: merge((r) => r.losses),
    skippedSteps: results.flatMap((r) => r.skippedSteps),
    memoryBefore: results[0].memoryBefore,
    memoryAfter: results[results.length - 1].memoryAfter,
  };
}

async function m256Backend(runner: Runner, backend: 'webgpu' | 'cpu'): Promise<Outcome<BackendResult & { incomplete?: string }>> {
  const h = runner.session;
  const setup = await runner.guarded(`256M ${backend}: random weights, load and prepare (${VARIANTS.length} trainers, 1 pair: a reference forward each)`, M256_SETUP_CAP_S[backend], null, (c) =>
    h.call(c, (a) => window.aspoHarness!.benchTrainerSetup(a), {
      backend,
      model: M256,
      variants: VARIANTS,
      pairs: 1,
      settings: { batchSize: 1 },
      responseTokens: M256_RESPONSE_TOKENS,
    }),
  );
  if (isSkipped(setup)) return setup as Outcome<BackendResult>;
  const s = setup as TrainerBenchSetupResult;
  try {
    // The last prepare ran with the weights on the device and the forward compiled: one reference forward.
    const forwardS = s.prepareMs[VARIANTS[VARIANTS.length - 1].name] / 1000;
    log(`256M ${backend}: prepare ${Object.values(s.prepareMs).map((x) => (x / 1000).toFixed(1)).join('/')} s`);
    // One untimed step of every variant: each trainer makes its Adam moments before the clock runs, and on WebGPU
    // the first step compiles the backward. A step ≈ forward + backward ≈ 3 forwards (4 with the compilation).
    const warmPredictedS = (4 + 3 + 3 + 1) * forwardS;
    const warm = await runner.guarded(`256M ${backend}: one untimed step per variant (warm-up, predicted ≈ ${warmPredictedS.toFixed(0)} s)`, Math.max(120, 3 * warmPredictedS), warmPredictedS, (c) =>
      h.call(c, (a) => window.aspoHarness!.benchTrainer(a), { rounds: 0, warmupRounds: 1 }),
    );
    if (isSkipped(warm)) return warm as Outcome<BackendResult>;
    const w = warm as TrainerBenchResult;
    // A round's cost, from the warm-up's steps (an overestimate on WebGPU, where the first compiles the backward).
    const roundS = Object.values(w.warmupMs).reduce((n, xs) => n + xs[0], 0) / 1000;
    const planned = Math.max(1, Math.min(M256_MAX_ROUNDS, Math.floor(M256_ALLOTMENT_S[backend] / roundS)));
    const measured: TrainerBenchResult[] = [];
    let incomplete: string | undefined;
    for (let r = 0; r < planned; r++) {
      // The order rotated by one per round, as the harness does within a call.
      const variants = VARIANTS.map((_, k) => VARIANTS[(k + r) % VARIANTS.length].name);
      const out = await runner.guarded(`256M ${backend}: measured round ${r + 1} of ${planned} (${variants.join(', ')}; predicted ≈ ${roundS.toFixed(0)} s)`, Math.max(120, 2 * roundS), roundS, (c) =>
        h.call(c, (a) => window.aspoHarness!.benchTrainer(a), { variants, rounds: 1, warmupRounds: 0 }),
      );
      if (isSkipped(out)) {
        incomplete = `round ${r + 1} of ${planned}: ${(out as { reason: string }).reason}`;
        break;
      }
      measured.push(out as TrainerBenchResult);
    }
    if (measured.length === 0) return skipped(incomplete ?? 'no round measured');
    return { ...backendResult(s, w, mergeRounds(measured), measured.length), ...(incomplete ? { incomplete } : {}) };
  } finally {
    await h.call(60, () => window.aspoHarness!.benchTrainerUnload(), undefined).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// The app's Train tab: long tasks of the main thread while the worker trains
// ---------------------------------------------------------------------------

async function appLongTasks(runner: Runner, origin: string): Promise<Outcome<Record<string, unknown>>> {
  return runner.guarded(`app Train tab: long tasks during ${LONG_TASK_STEPS} steps in the worker`, APP_CAP_S, null, async (capS) => {
    const page = await runner.session.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.addInitScript(installLongTaskObserver);
      await page.goto(`${origin}/#train`);
      const backendLine = page.getByTestId('train-backend');
      await page.waitForFunction(() => !!document.querySelector('[data-testid="train-backend"]')?.getAttribute('data-backend'), null, { timeout: 90_000 });
      const workerBackend = await backendLine.getAttribute('data-backend');
      await page.getByTestId('preset-defaults').click();
      // The harness run's settings: 20 steps, batch 1, the first 8 sandbox pairs; the rest default (ASPO).
      await page.getByTestId('set-steps').fill(String(LONG_TASK_STEPS));
      await page.getByTestId('set-batch').fill(String(TINY_SETTINGS.batchSize));
      await page.getByTestId('set-sandbox-count').fill(String(TINY_PAIRS));
      const since = await pageNow(page);
      const t0 = Date.now();
      await page.getByTestId('train-start').click();
      // The run's status and step over time (page clock), to say what each long task overlapped.
      const timeline: { t: number; status: string | null; step: number }[] = [];
      const deadline = Date.now() + Math.max(10, capS - 30) * 1000;
      for (;;) {
        const snap = await page.evaluate(() => {
          const el = document.querySelector('[data-testid="train-status"]');
          return { t: performance.now(), status: el?.getAttribute('data-status') ?? null, step: Number(el?.getAttribute('data-step') ?? 0) };
        });
        const last = timeline[timeline.length - 1];
        if (!last || last.status !== snap.status || last.step !== snap.step) timeline.push(snap);
        if (snap.step >= LONG_TASK_STEPS || snap.status === 'error' || snap.status === 'done') break;
        // Out of time: report the long tasks of the steps done so far (marked incomplete) rather than nothing.
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const wallMs = Date.now() - t0;
      const status = await page.getByTestId('train-status').getAttribute('data-status');
      const step = Number(await page.getByTestId('train-status').getAttribute('data-step'));
      if (step === 0) throw new Error(`no step was reported (status ${status})${errors.length ? `: ${errors[0]}` : ''}`);
      return {
        complete: step >= LONG_TASK_STEPS,
        stepsDone: step,
        ...(step < LONG_TASK_STEPS ? { incomplete: `only ${step} of ${LONG_TASK_STEPS} steps within the ${capS.toFixed(0)} s cap (status ${status}): the long tasks are those of these steps` } : {}),
        where: `the app (index.html#train): Train tab, tiny SmolVLM, ASPO with default settings except ${LONG_TASK_STEPS} steps, batch ${TINY_SETTINGS.batchSize}, the first ${TINY_PAIRS} sandbox pairs; training in the Web Worker`,
        workerBackend,
        steps: LONG_TASK_STEPS,
        wallMsFromStartClickToLastStep: wallMs,
        status,
        longTasks: await longTasksSince(page, since),
        longestTasks: (await longestTasksSince(page, since, 5)).map((x) => {
          const during = [...timeline].reverse().find((e) => e.t <= x.start);
          return {
            startS: round((x.start - since) / 1000, 1),
            durationMs: round(x.duration, 1),
            during: during ? `${during.status ?? 'no run yet'}, step ${during.step}` : 'before the first status',
          };
        }),
        timeline: timeline.map((e) => ({ atS: round((e.t - since) / 1000, 1), status: e.status, step: e.step })),
        pageErrors: errors,
      };
    } finally {
      await page.close().catch(() => undefined);
    }
  });
}

// ---------------------------------------------------------------------------

function ratioOf(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined ? null : round(a / b);
}

async function main() {
  let out: Record<string, unknown> = {};
  await withPreview(log, async (origin) => {
    const session = new Session(`${origin}/harness.html`, log, installLongTaskObserver);
    try {
      await session.open();
      const runner = new Runner(session);
      // Cheapest first. If the app cannot be measured, the harness measures the worst case (the Trainer on the main thread).
      const tinyCpu = await selected('tinyCpu', () => tinyBackend(runner, 'cpu'));
      const tinyWebgpu = await selected('tinyWebgpu', () => tinyBackend(runner, 'webgpu'));
      const app = await selected('app', () => appLongTasks(runner, origin));
      const harnessLong = isSkipped(app) ? await selected('app', () => harnessLongTasks(runner)) : undefined;
      // The 256M model's CPU part first: it is the cheaper of the two, so a short budget still measures one of them.
      const m256Cpu = await selected('m256Cpu', () => m256Backend(runner, 'cpu'));
      const m256Webgpu = await selected('m256Webgpu', () => m256Backend(runner, 'webgpu'));

      const measured = <T>(x: Outcome<T>) => (isSkipped(x) ? undefined : (x as T));
      const tw = measured(tinyWebgpu);
      const tc = measured(tinyCpu);
      const mw = measured(m256Webgpu);
      const mc = measured(m256Cpu);
      const ratiosOf = (key: 'aspoOverDpo' | 'cachedOverRecompute') => ({
        tinySmolvlm: { webgpu: tw?.ratios[key] ?? null, cpu: tc?.ratios[key] ?? null },
        smolvlm256mRandom: { webgpu: mw?.ratios[key] ?? null, cpu: mc?.ratios[key] ?? null },
      });
      const appOk = !isSkipped(app);
      out = {
        ...resultHeader('Training in Chromium with the real Trainer on the sandbox pairs: ASPO vs DPO, cached vs recomputed reference, WebGPU vs CPU, main-thread long tasks', session.browser.version()),
        summary: {
          aspoOverDpoStepTime: { target: '≤ 1.05', ...ratiosOf('aspoOverDpo') },
          cachedOverRecomputedReferenceStepTime: ratiosOf('cachedOverRecompute'),
          webgpuOverCpuStepsPerS: {
            tinySmolvlm: ratioOf(tw?.steps.aspo.stepsPerS, tc?.steps.aspo.stepsPerS),
            smolvlm256mRandom: ratioOf(mw?.steps.aspo.stepsPerS, mc?.steps.aspo.stepsPerS),
          },
          longestMainThreadTaskMs: {
            appWithWorker: appOk ? ((app as { longTasks: { longestMs: number | null } }).longTasks.longestMs ?? 'no task over 50 ms') : null,
            harnessMainThreadWorstCase:
              harnessLong && !isSkipped(harnessLong) ? ((harnessLong as { longTasks: { longestMs: number | null } }).longTasks.longestMs ?? 'no task over 50 ms') : null,
          },
          notes: [
            'Long tasks are the PerformanceObserver("longtask") entries (tasks over 50 ms) of the page between the start of the 20 steps and their end.',
            appOk
              ? 'appWithWorker drives the real Train tab (training in its Web Worker), from the click on Start (model load and prepare included) to step 20; the harness main-thread worst case is then not measured.'
              : `The app's Train tab could not be measured (${(app as { reason: string }).reason}); harnessMainThreadWorstCase is measured on the harness page with the Trainer on the main thread — the worst case without a worker, not the app.`,
          ],
        },
        definitions: {
          step: 'wall time of Trainer.step() (batch of settings.batchSize pairs by gradient accumulation: policy forward and backward, Adam), plus for aspoRecomputeReference the reference forwards (adapters off) of the step\'s pairs run before it; medians over the measured rounds',
          interleaving: 'each round runs one step of every variant (aspo, dpo, aspoRecomputeReference) on one engine, in an order rotated by one per round; warm-up rounds are not counted',
          aspoOverDpo: 'median over the measured rounds of (ASPO step time / DPO step time of the same round) (default ASPO settings: sentence granularity, perplexity source policy, α 0.5, mean normalisation; weights computed inside the gradient pass); ratios.ratioOfMedians gives median ASPO / median DPO too',
          cachedOverRecompute: 'median over the measured rounds of (ASPO step time with the Trainer\'s cached reference / ASPO step time recomputing the reference before the step) (< 1: the cache saves time)',
          webgpuOverCpu: 'WebGPU ASPO steps/s over CPU-backend ASPO steps/s (> 1: WebGPU is faster), from the median step times',
        },
        tinySmolvlm: {
          model: `/models/tiny-smolvlm (bundled), the first ${TINY_PAIRS} sandbox training pairs with their 64×64 images, default training settings except batch ${TINY_SETTINGS.batchSize}`,
          webgpu: tinyWebgpu,
          cpu: tinyCpu,
        },
        smolvlm256mRandom: {
          model:
            'random weights with SmolVLM-256M-Instruct\'s dimensions (randomWeights(parseModelConfig(SMOLVLM_256M_INSTRUCT), 0)), tokenized with the tiny SmolVLM\'s tokenizer; text-only sandbox pair (no vision tower: it is frozen and its features cached, so a step never runs it; SigLIP at 512×512 did not finish in 240 s on SwiftShader in bench:engine), batch 1',
          bound: `one pair, responses cut to ${M256_RESPONSE_TOKENS} tokens; per backend: three prepares (a reference forward each), one untimed step per variant, then as many rounds as fit ${M256_ALLOTMENT_S.webgpu} s (WebGPU) / ${M256_ALLOTMENT_S.cpu} s (CPU), at least 1, at most ${M256_MAX_ROUNDS}`,
          webgpu: m256Webgpu,
          cpu: m256Cpu,
        },
        longTasks: {
          app,
          harnessMainThread: harnessLong ?? skipped('not needed: the app with its worker was measured'),
        },
        budgetS: TOTAL_BUDGET_S,
        totalSeconds: round(clock.elapsedS(), 1),
      };
    } finally {
      await session.close();
    }
  });
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench-train: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
