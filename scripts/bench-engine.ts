/**
 * Benchmark of the TF.js engine in Chromium, on WebGPU and on the CPU backend in the same page (harness.html):
 * log-prob throughput (a batch of two responses, with and without an image), one LoRA training step of the trainer
 * (`optimizerStep` with objective DPO: forward with adapters, loss, backward, gradient norm and clipping, Adam on the
 * LoRA variables, the metrics), the WebGPU/CPU ratio of each,
 * and tf.memory() around a training step — for the bundled tiny SmolVLM and for a random model with
 * SmolVLM-256M's exact dimensions built in the page.
 *
 *   npm run bench:engine            (vite build, then this script; it serves dist/ with `vite preview` itself)
 *
 * Prints one JSON object on stdout; progress goes to stderr. Every measurement has a time cap: one that would take
 * longer is reported as skipped with the reason (predicted from an earlier measurement where possible, else after
 * the cap, in which case the browser is restarted for the next group). Never a timed test.
 */
import type {
  BenchLoadResult,
  BenchModel,
  BenchRunOptions,
  BenchShape,
  FeatureMode,
  LogprobsTiming,
  TrainStepTiming,
} from '../src/harness/protocol';
import { Clock, isSkipped, resultHeader, Session, Timeout, withPreview, type Outcome } from './lib/bench';

const clock = new Clock('bench');
const log = (message: string) => clock.log(message);

interface Plan {
  name: string;
  model: BenchModel;
  text: BenchShape;
  image: BenchShape;
  runs: Record<'webgpu' | 'cpu', number>;
  /** Seconds one measurement may take, per backend. */
  capS: Record<'webgpu' | 'cpu', number>;
  /** Warm-up: a full untimed run, or (for the slow CPU case) a short one. */
  warmup: Record<'webgpu' | 'cpu', BenchRunOptions['warmup']>;
  /** Where the image features come from on each backend (see AspoHarness.benchImageFeatures). */
  features: Record<'webgpu' | 'cpu', FeatureMode>;
  /** Why the vision tower is not timed, where it is not. */
  visionNote?: string;
  /** Measure the training step with an image too (else text only). */
  trainWithImage: Record<'webgpu' | 'cpu', boolean>;
}

const TINY: Plan = {
  name: 'tiny-smolvlm (bundled, tests/fixtures/models/tiny-smolvlm)',
  model: { kind: 'url', url: '/models/tiny-smolvlm' },
  text: { image: false, promptTokens: 12, responseTokens: 32 },
  image: { image: true, promptTokens: 12, responseTokens: 32 },
  runs: { webgpu: 3, cpu: 3 },
  capS: { webgpu: 120, cpu: 120 },
  warmup: { webgpu: 'full', cpu: 'full' },
  features: { webgpu: 'compute', cpu: 'compute' },
  trainWithImage: { webgpu: true, cpu: true },
};

const M256: Plan = {
  name: 'random SmolVLM-256M-Instruct dimensions (randomWeights(parseModelConfig(SMOLVLM_256M_INSTRUCT), 0))',
  model: { kind: 'random-smolvlm-256m', seed: 0 },
  // Short sequences: the CPU backend does about half a GFLOP/s here.
  text: { image: false, promptTokens: 4, responseTokens: 8 },
  image: { image: true, promptTokens: 4, responseTokens: 8 },
  runs: { webgpu: 2, cpu: 1 },
  capS: { webgpu: 240, cpu: 150 },
  // The first forward (measured on its own) warms up; a full extra run would double the cost.
  warmup: { webgpu: 'none', cpu: 'none' },
  features: { webgpu: 'synthetic', cpu: 'synthetic' },
  visionNote:
    'not timed: SigLIP at 512×512 is ≈ 2 × 86 M parameters × 1024 patches ≈ 0.2 TFLOP per image; a first attempt on SwiftShader WebGPU did not finish within a 240 s cap, and TF.js CPU does ≈ 0.5 GFLOP/s on this machine. The image runs use random features of the right shape ([1, 64, 576]); the engine computes features once per image and caches them.',
  trainWithImage: { webgpu: true, cpu: true },
};

/** Total wall time the measurements may use (the last one started may still run up to its cap). */
const TOTAL_BUDGET_S = Number(process.env.BENCH_BUDGET_S ?? 540);

/** Training ≈ forward + backward ≈ this many forwards (used only to predict whether a measurement fits its cap). */
const TRAIN_OVER_FORWARD = 3.5;

type BackendResult = {
  load?: Outcome<BenchLoadResult>;
  visionTower?: Outcome<{ ms: number | null; mode: FeatureMode; note?: string }>;
  firstForward?: Outcome<LogprobsTiming>;
  logprobsText?: Outcome<LogprobsTiming>;
  logprobsImage?: Outcome<LogprobsTiming>;
  trainStepText?: Outcome<TrainStepTiming>;
  trainStepImage?: Outcome<TrainStepTiming>;
  memoryAfterUnload?: { numBytes: number; numTensors: number };
};

async function runBackend(session: Session, plan: Plan, backend: 'webgpu' | 'cpu'): Promise<BackendResult> {
  const out: BackendResult = {};
  const cap = plan.capS[backend];
  const runs = plan.runs[backend];
  const warmup = plan.warmup[backend];
  let dead: string | null = null;

  const measure = async <T>(label: string, predictedS: number | null, fn: () => Promise<T>): Promise<Outcome<T>> => {
    if (dead) return { skipped: true, reason: dead };
    const elapsedS = clock.elapsedS();
    if (elapsedS + (predictedS ?? 0) > TOTAL_BUDGET_S) {
      const reason = `the benchmark's total budget of ${TOTAL_BUDGET_S} s would be exceeded (${elapsedS.toFixed(0)} s spent${predictedS === null ? '' : `, ${predictedS.toFixed(0)} s predicted for this one`})`;
      log(`${backend} ${label}: skipped, ${reason}`);
      return { skipped: true, reason };
    }
    if (predictedS !== null && predictedS > cap) {
      const reason = `predicted ${predictedS.toFixed(0)} s (from the measurements before it) exceeds the ${cap} s cap`;
      log(`${backend} ${label}: skipped, ${reason}`);
      return { skipped: true, reason };
    }
    log(`${backend} ${label}…`);
    try {
      const r = await fn();
      return r;
    } catch (err) {
      if (err instanceof Timeout) {
        dead = `not run: an earlier measurement on this backend (${label}) exceeded its cap and the page was restarted`;
        log(`${backend} ${label}: ${err.message}; restarting the browser`);
        await session.restart();
        return { skipped: true, reason: err.message };
      }
      throw err;
    }
  };

  const h = session;
  await h.call(30, (name) => window.aspoHarness!.setBackend(name), backend);
  out.load = await measure('load', null, () => h.call(cap * 2, (m) => window.aspoHarness!.benchLoad(m), plan.model));
  const mode = plan.features[backend];
  out.visionTower = await measure(`image features (${mode})`, null, () =>
    h.call(cap, (o) => window.aspoHarness!.benchImageFeatures(o), { mode }),
  );
  if (mode !== 'compute' && !isSkipped(out.visionTower) && plan.visionNote) {
    out.visionTower = { ...(out.visionTower as object), note: plan.visionNote } as BackendResult['visionTower'];
  }

  // The first forward of a freshly loaded model (2-token responses): on WebGPU it includes the weight upload and the
  // shader compilation, so it is reported on its own.
  out.firstForward = await measure('first forward', null, () =>
    h.call(cap, (o) => window.aspoHarness!.benchLogprobs(o), { ...plan.text, responseTokens: 2, runs: 1, warmup: 'none' as const }),
  );
  const opts = (shape: BenchShape): BenchRunOptions => ({ ...shape, runs, warmup });
  out.logprobsText = await measure('log-probs, text', null, () => h.call(cap, (o) => window.aspoHarness!.benchLogprobs(o), opts(plan.text)));

  // Predictions scale the text-only forward by sequence length (the decoder is linear in it at these lengths).
  const perToken = isSkipped(out.logprobsText) ? null : out.logprobsText!.medianMs / 1000 / out.logprobsText!.sequenceLength;
  const seqLen = (shape: BenchShape) =>
    1 + shape.promptTokens + (shape.image && !isSkipped(out.load) ? (out.load as BenchLoadResult).imageSeqLen : 0) + shape.responseTokens;
  const forwards = (shape: BenchShape, n: number) => (perToken === null ? null : perToken * seqLen(shape) * n);
  const warm = (n: number) => n + (warmup === 'full' ? 1 : warmup === 'short' ? 0.5 : 0);

  out.logprobsImage = isSkipped(out.visionTower)
    ? { skipped: true, reason: 'no image features' }
    : await measure('log-probs, image', forwards(plan.image, warm(runs)), () =>
        h.call(cap, (o) => window.aspoHarness!.benchLogprobs(o), opts(plan.image)),
      );
  // A training step also runs the reference forward (untimed), hence the + 1.
  const trainPrediction = (shape: BenchShape) => {
    const f = forwards(shape, 1);
    return f === null ? null : f * (TRAIN_OVER_FORWARD + 1) * warm(runs);
  };
  out.trainStepText = await measure('training step, text', trainPrediction(plan.text), () =>
    h.call(cap, (o) => window.aspoHarness!.benchTrainStep(o), opts(plan.text)),
  );
  if (plan.trainWithImage[backend] && !isSkipped(out.visionTower)) {
    out.trainStepImage = await measure('training step, image', trainPrediction(plan.image), () =>
      h.call(cap, (o) => window.aspoHarness!.benchTrainStep(o), opts(plan.image)),
    );
  }
  if (!dead) out.memoryAfterUnload = await h.call(60, () => window.aspoHarness!.benchUnload(), undefined);
  return out;
}

function ratio(webgpu: Outcome<{ medianMs: number }> | undefined, cpu: Outcome<{ medianMs: number }> | undefined): number | { skipped: true; reason: string } {
  if (isSkipped(webgpu) || isSkipped(cpu)) return { skipped: true, reason: 'a side of the ratio was skipped' };
  return Number((cpu!.medianMs / webgpu!.medianMs).toFixed(3));
}

async function main() {
  await withPreview(log, async (origin) => {
    const session = new Session(`${origin}/harness.html`, log);
    try {
      await session.open();
      const browserVersion = session.browser.version();
      const models: Record<string, unknown> = {};
      for (const plan of [TINY, M256]) {
        log(`== ${plan.name}`);
        const webgpu = await runBackend(session, plan, 'webgpu');
        const cpu = await runBackend(session, plan, 'cpu');
        const load = isSkipped(webgpu.load) ? undefined : (webgpu.load as BenchLoadResult);
        models[plan.model.kind === 'url' ? 'tinySmolvlm' : 'smolvlm256mRandom'] = {
          name: plan.name,
          parameters: load?.parameters,
          imageSeqLen: load?.imageSeqLen,
          shapes: { text: plan.text, image: plan.image, batch: 2 },
          runs: plan.runs,
          warmup: plan.warmup,
          capS: plan.capS,
          webgpu,
          cpu,
          // > 1: WebGPU is that many times faster than TF.js' CPU backend (CPU time / WebGPU time, medians).
          webgpuSpeedupOverCpu: {
            logprobsText: ratio(webgpu.logprobsText, cpu.logprobsText),
            logprobsImage: ratio(webgpu.logprobsImage, cpu.logprobsImage),
            trainStepText: ratio(webgpu.trainStepText, cpu.trainStepText),
            trainStepImage: ratio(webgpu.trainStepImage, cpu.trainStepImage),
          },
        };
      }
      const result = {
        ...resultHeader('TF.js engine in Chromium: log-prob throughput and one LoRA (DPO) training step of the trainer, WebGPU vs CPU backend', browserVersion),
        definitions: {
          tokensPerS: 'response tokens scored (both responses) / median wall time of TfjsEngine.responseLogprobs + await data()',
          firstForward: 'one forward with 2-token responses right after loading, with no warm-up before it: on WebGPU it includes the weight upload and shader compilation',
          logprobsImage: 'image features precomputed and cached, as the engine does; the vision tower is timed separately (visionTower: one untimed-warm-up-free run, so on WebGPU it includes shader compilation and the weight upload)',
          trainStep:
            "one step of the project's trainer (optimizerStep, src/train/optimizerStep.ts; objective DPO, the other settings the trainer's defaults) over the LoRA variables only: forward with adapters, DPO loss −log σ(β·margin) (β = 0.1, response 0 chosen, response 1 rejected, reference = adapters off, computed once before the steps, untimed), backward, the global gradient norm and the finite checks, clipping at gradClipNorm (1), the trainer's Adam update (torch's, src/train/adam.ts), the read-back of loss, norm and policy log-probs and the float64 metrics; timed until the last variable is read back. Until issue 10 the harness ran its own step (optimizer.minimize with tf.train.adam, reading back the loss only, no norm, clipping or metrics), so earlier trainStep numbers are of that lighter step",
          memory: "tf.memory() numBytes / numTensors before the first step (before the trainer's Adam makes its moments), after it and after the last",
          webgpuSpeedupOverCpu: 'CPU median time / WebGPU median time for the same shapes',
        },
        models,
        totalSeconds: Number(clock.elapsedS().toFixed(1)),
      };
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } finally {
      await session.close();
    }
  });
}

main().catch((err: Error) => {
  process.stderr.write(`bench-engine: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
