/**
 * Benchmark of the CPU backends (issue 11), measured in one run, their sides interleaved round by round (cpu, wasm,
 * cpu, wasm, …), medians:
 *  - matmul: the machine's matrix-product peak on TF.js' `cpu` and `wasm` backends in Node (the best GFLOP/s of
 *    512², 1024², 2048² products);
 *  - tiny, m256: the TF.js engine in Node on `wasm` over `cpu` — per-token log-prob throughput
 *    (`TfjsEngine.responseLogprobs`) and one step of the trainer (`optimizerStep`, objective DPO, LoRA), as
 *    bench:engine's page side drives them (src/harness/benchEngine.ts) — for the bundled tiny SmolVLM and for a
 *    random model with SmolVLM-256M-Instruct's dimensions, with the GFLOP/s each achieves (FLOPs counted from the
 *    config) against the peak; and, for each, the memory of one LoRA step on each backend (tf.profile's peak tensor
 *    bytes, the WebAssembly heap, the process RSS) beside memoryFit.ts's estimate and the 4 GiB of wasm32;
 *  - onnxThreads: in Chromium, ONNX Runtime's WebAssembly with one thread per core over one thread — log-prob
 *    throughput of the ONNX engine on the bundled tiny SmolVLM, a fresh page per setting (ONNX Runtime reads its
 *    thread count once), served cross-origin isolated by `vite preview` (vite.config.ts) or reported as not.
 * The model is built again for every round on every backend: tensors belong to the backend they were made on.
 *
 *   npm run -s bench:cpu                      (vite build, then this script; it serves dist/ with `vite preview` itself)
 *   BENCH_PARTS=matmul,tiny npm run -s bench:cpu      (some parts: matmul, tiny, onnxThreads, m256; BENCH_BUDGET_S=…)
 *
 * Prints one JSON object on stdout; progress goes to stderr. The run has a time budget: a round or a measurement
 * that would not fit it is reported as skipped with the reason. Never a timed test.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { benchLoad, benchLogprobs, benchTrainStep, disposeBench } from '../src/harness/benchEngine';
import type { BenchModel, BenchShape, LogprobsTiming, OnnxThreadsResult, TrainStepTiming } from '../src/harness/protocol';
import { parseModelConfig, type ModelConfig } from '../src/models/config';
import { SMOLVLM_256M_INSTRUCT } from '../src/models/knownConfigs';
import { longResponse } from '../src/models/teacherForcing.testutil';
import { DEFAULT_LORA_TARGETS } from '../src/models/tfjs/lora';
import { backendLimit, formatBytes, longestTrainingPair, modelBytes, WASM32_HEAP_BYTES, workingSet } from '../src/models/tfjs/memoryFit';
import { DEFAULT_LORA } from '../src/models/tfjs/weights';
import { Clock, isSkipped, machine, median, round, Session, skipped, withPreview, type Outcome } from './lib/bench';
// Renamed: the React hooks lint rule takes any use* function for a hook.
import { startNodeBackend } from './lib/nodeBackend';
import { FIXTURE_MODELS, nodeFolderSource } from './lib/nodeModelSource';

const clock = new Clock('bench:cpu');
const log = (message: string) => clock.log(message);

/** Total wall time the measurements may use (a round that has started runs to its end). */
const TOTAL_BUDGET_S = Number(process.env.BENCH_BUDGET_S ?? 1500);

const PART_NAMES = ['matmul', 'tiny', 'onnxThreads', 'm256'] as const;
type Part = (typeof PART_NAMES)[number];
/** Parts to run: a comma list of PART_NAMES; default all. */
const PARTS = process.env.BENCH_PARTS?.split(',').map((x) => x.trim());
const unknownPart = PARTS?.find((p) => !(PART_NAMES as readonly string[]).includes(p));
if (unknownPart !== undefined) throw new Error(`BENCH_PARTS: unknown part "${unknownPart}" (parts: ${PART_NAMES.join(', ')})`);
const selected = (part: Part) => !PARTS || PARTS.includes(part);

/** The interleaving order within a round. */
const BACKENDS = ['cpu', 'wasm'] as const;
type Backend = (typeof BACKENDS)[number];

function budgetLeft(predictedS: number): string | null {
  const spent = clock.elapsedS();
  return spent + predictedS > TOTAL_BUDGET_S
    ? `the total budget of ${TOTAL_BUDGET_S} s (BENCH_BUDGET_S) would be exceeded: ${spent.toFixed(0)} s spent, ${predictedS.toFixed(0)} s predicted`
    : null;
}

function wasmHeapBytes(): number | null {
  const wasm = (tf.backend() as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return wasm ? wasm.HEAPU8.buffer.byteLength : null;
}

function load(): number[] {
  return loadavg().map((x) => round(x, 2));
}

// ---------------------------------------------------------------------------
// matmul: the peak on each backend
// ---------------------------------------------------------------------------

const MATMUL_SIZES = [512, 1024, 2048];
const MATMUL_ROUNDS = 3;
/** Timed products per round (a 2048² product takes about 20 s on the CPU backend here). */
const MATMUL_RUNS: Record<number, number> = { 512: 5, 1024: 3, 2048: 1 };

interface MatmulSide {
  runsMs: number[];
  medianMs: number;
  gflops: number;
}

/** `runs` products of two n×n matrices, each read back; one untimed product first (XNNPACK's and the JIT's first call). */
async function timeMatmul(n: number, runs: number, warmup: boolean): Promise<number[]> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const once = async () => {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
    return performance.now() - t0;
  };
  try {
    if (warmup) await once();
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) ms.push(await once());
    return ms;
  } finally {
    tf.dispose([a, b]);
  }
}

/**
 * The 256M shape's gate/up projection at the m256 part's 66 rows: x [66, 576] times W [1536, 576] as Linear.apply
 * multiplies it (transposeB, W as PyTorch stores it), and times W stored transposed, [576, 1536].
 */
const LINEAR = { rows: 66, inFeatures: 576, outFeatures: 1536, runs: { cpu: 5, wasm: 30 } };

async function timeLinear(backend: Backend): Promise<Record<'transposeB' | 'pretransposed', number[]>> {
  const { rows, inFeatures, outFeatures } = LINEAR;
  const x = tf.randomNormal([rows, inFeatures], 0, 1, 'float32', 3);
  const w = tf.randomNormal([outFeatures, inFeatures], 0, 1, 'float32', 4);
  const wt = tf.transpose(w);
  const time = async (f: () => tf.Tensor) => {
    const t0 = performance.now();
    const y = f();
    await y.data();
    y.dispose();
    return performance.now() - t0;
  };
  try {
    await time(() => tf.matMul(x, w, false, true));
    await time(() => tf.matMul(x, wt));
    const out = { transposeB: [] as number[], pretransposed: [] as number[] };
    for (let i = 0; i < LINEAR.runs[backend]; i++) {
      out.transposeB.push(await time(() => tf.matMul(x, w, false, true)));
      out.pretransposed.push(await time(() => tf.matMul(x, wt)));
    }
    return out;
  } finally {
    tf.dispose([x, w, wt]);
  }
}

async function matmulPart() {
  const linearMs: Record<Backend, Record<'transposeB' | 'pretransposed', number[]>> = {
    cpu: { transposeB: [], pretransposed: [] },
    wasm: { transposeB: [], pretransposed: [] },
  };
  const runsMs: Record<Backend, Record<number, number[]>> = { cpu: {}, wasm: {} };
  const skips: Record<string, string> = {};
  for (let r = 0; r < MATMUL_ROUNDS; r++) {
    for (const backend of BACKENDS) {
      await startNodeBackend(backend);
      const linear = await timeLinear(backend);
      linearMs[backend].transposeB.push(...linear.transposeB);
      linearMs[backend].pretransposed.push(...linear.pretransposed);
      for (const n of MATMUL_SIZES) {
        const key = `${backend} ${n}`;
        if (skips[key]) continue;
        const smaller = runsMs[backend][n / 2];
        // Predicted from the size below (n³), for every run left of every round.
        const predicted = smaller ? median(smaller) / 1000 * 8 * MATMUL_RUNS[n] * (MATMUL_ROUNDS - r) : 0;
        const over = budgetLeft(predicted);
        if (over) {
          skips[key] = over;
          log(`matmul ${key}: skipped, ${over}`);
          continue;
        }
        log(`matmul ${backend} ${n}² (round ${r + 1})`);
        // The largest product is warm from the ones before it; an untimed 2048² on the CPU backend costs 20 s.
        const ms = await timeMatmul(n, MATMUL_RUNS[n], n < 2048);
        (runsMs[backend][n] ??= []).push(...ms);
      }
    }
  }
  const side = (backend: Backend, n: number): Outcome<MatmulSide> => {
    const ms = runsMs[backend][n];
    if (!ms?.length) return skipped(skips[`${backend} ${n}`] ?? 'not run');
    const m = median(ms);
    return { runsMs: ms.map((x) => round(x, 1)), medianMs: round(m, 1), gflops: round((2 * n ** 3) / (m / 1000) / 1e9) };
  };
  const sizes: Record<string, unknown> = {};
  const peak: Record<Backend, { gflops: number; size: number } | null> = { cpu: null, wasm: null };
  for (const n of MATMUL_SIZES) {
    const cpu = side('cpu', n);
    const wasm = side('wasm', n);
    for (const [backend, s] of [['cpu', cpu], ['wasm', wasm]] as const) {
      if (!isSkipped(s) && (peak[backend] === null || s.gflops > peak[backend].gflops)) peak[backend] = { gflops: s.gflops, size: n };
    }
    sizes[String(n)] = {
      cpu,
      wasm,
      wasmOverCpu: isSkipped(cpu) || isSkipped(wasm) ? skipped('a side was skipped') : round(cpu.medianMs / wasm.medianMs, 2),
    };
  }
  const flop = 2 * LINEAR.rows * LINEAR.inFeatures * LINEAR.outFeatures;
  const layout = (backend: Backend) => {
    const [a, b] = [median(linearMs[backend].transposeB), median(linearMs[backend].pretransposed)];
    return {
      transposeB: { medianMs: round(a, 2), gflops: round(flop / (a / 1000) / 1e9) },
      pretransposed: { medianMs: round(b, 2), gflops: round(flop / (b / 1000) / 1e9) },
      transposeBOverPretransposed: round(a / b, 2),
    };
  };
  const linear = { shape: `[${LINEAR.rows}, ${LINEAR.inFeatures}] × [${LINEAR.outFeatures}, ${LINEAR.inFeatures}]ᵀ`, runsPerRound: LINEAR.runs, cpu: layout('cpu'), wasm: layout('wasm') };
  return { rounds: MATMUL_ROUNDS, runsPerRound: MATMUL_RUNS, sizes, peakGflops: peak, linear };
}

// ---------------------------------------------------------------------------
// tiny, m256: the TF.js engine's log-probs and LoRA step
// ---------------------------------------------------------------------------

interface ModelPlan {
  key: 'tinySmolvlm' | 'smolvlm256mRandom';
  name: string;
  model: BenchModel;
  config: ModelConfig;
  shape: BenchShape;
  rounds: number;
  logprobRuns: number;
  stepRuns: number;
}

const TINY_URL = '/models/tiny-smolvlm';

const TINY: ModelPlan = {
  key: 'tinySmolvlm',
  name: 'tiny-smolvlm (bundled, tests/fixtures/models/tiny-smolvlm)',
  model: { kind: 'url', url: TINY_URL },
  config: parseModelConfig(JSON.parse(readFileSync(join(FIXTURE_MODELS, 'tiny-smolvlm', 'config.json'), 'utf8'))),
  shape: { image: false, promptTokens: 12, responseTokens: 32 },
  rounds: 3,
  logprobRuns: 5,
  stepRuns: 3,
};

const M256: ModelPlan = {
  key: 'smolvlm256mRandom',
  name: 'random SmolVLM-256M-Instruct dimensions (randomWeights(parseModelConfig(SMOLVLM_256M_INSTRUCT), 0))',
  model: { kind: 'random-smolvlm-256m', seed: 0 },
  config: parseModelConfig(SMOLVLM_256M_INSTRUCT),
  // Text only and short: a step of this shape takes about a minute on the CPU backend here.
  shape: { image: false, promptTokens: 16, responseTokens: 16 },
  rounds: 3,
  logprobRuns: 2,
  stepRuns: 1,
};

/** The bundled models' URLs are the folders under tests/fixtures/models that the page's server serves them from. */
const nodeSource = (url: string) => nodeFolderSource(join(FIXTURE_MODELS, basename(url)));

/**
 * Matrix-product FLOPs (2·m·n·k each) of the decoder for `sequences` sequences of `tokens` tokens, the LM head at
 * `responseTokens` positions of each, LoRA of rank r on every target linear. Elementwise work, norms, softmax and
 * the embedding lookup are not counted.
 */
function decoderFlops(config: ModelConfig, sequences: number, tokens: number, responseTokens: number) {
  const { hiddenSize: d, intermediateSize: i, numHeads: h, numKvHeads: kv, headDim: hd, numLayers: l, vocabSize: v } = config.text;
  const n = sequences * tokens;
  const dims: Record<string, [number, number]> = {
    q_proj: [d, h * hd],
    k_proj: [d, kv * hd],
    v_proj: [d, kv * hd],
    o_proj: [h * hd, d],
    gate_proj: [d, i],
    up_proj: [d, i],
    down_proj: [i, d],
  };
  let linear = 0;
  let lora = 0;
  for (const [name, [inF, outF]] of Object.entries(dims)) {
    linear += 2 * n * inF * outF;
    if (DEFAULT_LORA_TARGETS.includes(name)) lora += 2 * n * DEFAULT_LORA.r * (inF + outF);
  }
  linear *= l;
  lora *= l;
  const attention = l * sequences * 4 * h * tokens * tokens * hd;
  const head = 2 * sequences * responseTokens * d * v;
  return {
    linear,
    lora,
    attention,
    head,
    logprobs: linear + lora + attention + head,
    trainStep: 2 * linear + 3 * lora + 3 * attention + 2 * head,
  };
}

interface StepMemory {
  /** tf.memory().numBytes with the model loaded, before the step. */
  tensorBytesBefore: number;
  /** tf.profile's peakBytes over the step (the trainer's Adam moments included). */
  peakTensorBytes: number;
  /** wasm: the module's memory (it only grows, so this is the most it has held in this process), after the step. */
  wasmHeapBytes: number | null;
  rssBytes: number;
  /** The process' largest RSS so far (every earlier part included). */
  maxRssBytes: number;
  /** memoryFit.ts's estimate of this step. */
  estimate: ReturnType<typeof workingSet>;
}

async function profiledStep(plan: ModelPlan, backend: Backend, sequenceLength: number): Promise<StepMemory> {
  const tensorBytesBefore = tf.memory().numBytes;
  const info = await tf.profile(async () => {
    await benchTrainStep({ ...plan.shape, runs: 1, warmup: 'none' });
  });
  return {
    tensorBytesBefore,
    peakTensorBytes: info.peakBytes,
    wasmHeapBytes: wasmHeapBytes(),
    rssBytes: process.memoryUsage().rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    estimate: workingSet(plan.config, backend, 'training', {
      sequences: 2,
      tokens: sequenceLength,
      responseTokens: plan.shape.responseTokens,
      image: plan.shape.image,
    }),
  };
}

interface BackendRuns {
  loadMs: number[];
  logprobs: LogprobsTiming[];
  trainSteps: TrainStepTiming[];
  memory?: StepMemory;
  wasmHeapAfterLoad?: number | null;
}

async function modelRound(plan: ModelPlan, backend: Backend, first: boolean, into: BackendRuns): Promise<void> {
  await startNodeBackend(backend);
  try {
    const loaded = await benchLoad(plan.model, nodeSource);
    into.loadMs.push(loaded.loadMs);
    if (first) into.wasmHeapAfterLoad = wasmHeapBytes();
    log(`${plan.key} ${backend}: log-probs`);
    into.logprobs.push(await benchLogprobs({ ...plan.shape, runs: plan.logprobRuns, warmup: 'short' }));
    log(`${plan.key} ${backend}: training step`);
    into.trainSteps.push(await benchTrainStep({ ...plan.shape, runs: plan.stepRuns, warmup: 'short' }));
    if (first) {
      log(`${plan.key} ${backend}: one more step under tf.profile, for its memory`);
      into.memory = await profiledStep(plan, backend, into.trainSteps[0].sequenceLength);
    }
  } finally {
    disposeBench();
  }
}

function summary(runs: BackendRuns, flops: ReturnType<typeof decoderFlops>, peakGflops: number | null) {
  const lpMs = runs.logprobs.flatMap((t) => t.runsMs);
  const stepMs = runs.trainSteps.flatMap((t) => t.runsMs);
  const lp = median(lpMs);
  const step = median(stepMs);
  const tokens = runs.logprobs[0].responseTokens;
  const gflops = (f: number, ms: number) => round(f / (ms / 1000) / 1e9);
  const ofPeak = (g: number) => (peakGflops ? round(g / peakGflops) : null);
  const lpGflops = gflops(flops.logprobs, lp);
  const stepGflops = gflops(flops.trainStep, step);
  const m = runs.memory;
  return {
    loadMs: runs.loadMs.map((x) => round(x, 0)),
    logprobs: { runsMs: lpMs.map((x) => round(x, 1)), medianMs: round(lp, 1), tokensPerS: round(tokens / (lp / 1000), 1), gflops: lpGflops, ofMatmulPeak: ofPeak(lpGflops) },
    trainStep: {
      runsMs: stepMs.map((x) => round(x, 1)),
      medianMs: round(step, 1),
      stepsPerS: round(1000 / step, 4),
      gflops: stepGflops,
      ofMatmulPeak: ofPeak(stepGflops),
      losses: runs.trainSteps.flatMap((t) => t.loss.map((x) => round(x, 6))),
      skippedSteps: runs.trainSteps.flatMap((t) => t.skippedSteps),
    },
    memory: m && {
      tensorBytesBefore: m.tensorBytesBefore,
      peakTensorBytes: m.peakTensorBytes,
      wasmHeapBytesAfterLoad: runs.wasmHeapAfterLoad ?? null,
      wasmHeapBytes: m.wasmHeapBytes,
      wasmHeapOfWasm32Limit: m.wasmHeapBytes === null ? null : round(m.wasmHeapBytes / WASM32_HEAP_BYTES),
      rssBytes: m.rssBytes,
      maxRssBytes: m.maxRssBytes,
      readable: {
        peakTensors: formatBytes(m.peakTensorBytes),
        wasmHeap: m.wasmHeapBytes === null ? null : formatBytes(m.wasmHeapBytes),
        rss: formatBytes(m.rssBytes),
        estimate: formatBytes(m.estimate.totalBytes),
      },
      estimate: m.estimate,
    },
  };
}

async function modelPart(plan: ModelPlan, peak: Record<Backend, { gflops: number } | null>) {
  const runs: Record<Backend, BackendRuns> = { cpu: { loadMs: [], logprobs: [], trainSteps: [] }, wasm: { loadMs: [], logprobs: [], trainSteps: [] } };
  let roundsDone = 0;
  let lastRoundS = 0;
  let stopped: string | null = null;
  for (let r = 0; r < plan.rounds; r++) {
    // Predicted from the round before (the first one also profiles a step on each backend: a prediction on the safe side).
    const over = r === 0 ? budgetLeft(0) : budgetLeft(lastRoundS);
    if (over) {
      stopped = `${plan.rounds - r} of ${plan.rounds} rounds not run: ${over}`;
      log(`${plan.key}: ${stopped}`);
      break;
    }
    const t0 = clock.elapsedS();
    for (const backend of BACKENDS) {
      log(`${plan.key} round ${r + 1} of ${plan.rounds}, ${backend}`);
      await modelRound(plan, backend, r === 0, runs[backend]);
    }
    lastRoundS = clock.elapsedS() - t0;
    roundsDone++;
  }
  if (roundsDone === 0) return skipped(stopped ?? 'not run');
  const sample = runs.cpu.trainSteps[0];
  const flops = decoderFlops(plan.config, sample.batch, sample.sequenceLength, plan.shape.responseTokens);
  const cpu = summary(runs.cpu, flops, peak.cpu?.gflops ?? null);
  const wasm = summary(runs.wasm, flops, peak.wasm?.gflops ?? null);
  const bytes = modelBytes(plan.config);
  return {
    name: plan.name,
    parameters: bytes.parameters,
    weightBytes: bytes.weightBytes,
    shape: { ...plan.shape, batch: sample.batch, sequenceLength: sample.sequenceLength },
    lora: { r: DEFAULT_LORA.r, alpha: DEFAULT_LORA.alpha, targets: DEFAULT_LORA_TARGETS, trainableParameters: sample.trainableParameters },
    longestTrainingPairOnWasm: longestTrainingPair(plan.config, backendLimit('wasm')),
    trainerPairCutOnWasm: longestTrainingPair(plan.config, backendLimit('wasm'), (tokens) => tokens),
    rounds: roundsDone,
    runsPerRound: { logprobs: plan.logprobRuns, trainStep: plan.stepRuns },
    roundsNotRun: stopped,
    flops: { logprobs: flops.logprobs, trainStep: flops.trainStep, parts: { linear: flops.linear, lora: flops.lora, attention: flops.attention, head: flops.head } },
    cpu,
    wasm,
    // > 1: WASM is that many times faster (CPU median time / WASM median time).
    wasmOverCpu: {
      logprobs: round(cpu.logprobs.medianMs / wasm.logprobs.medianMs, 2),
      trainStep: round(cpu.trainStep.medianMs / wasm.trainStep.medianMs, 2),
    },
  };
}

// ---------------------------------------------------------------------------
// onnxThreads: ONNX Runtime WebAssembly in Chromium, threads over one thread
// ---------------------------------------------------------------------------

const ONNX_ROUNDS = 3;
const ONNX_CAP_S = 180;
/** Four long responses (about 200 tokens each on the tiny tokenizer, inside its 512-token window), text only. */
const ONNX_REQUEST = {
  prompt: 'Describe the picture in detail.',
  responses: [10, 11, 12, 13].map((n) => longResponse(n)),
  warmupRuns: 2,
  runs: 8,
};

/** Records every Worker the page starts (ONNX Runtime's threads are workers), before any page script runs. */
function recordWorkers() {
  const w = window as unknown as { __benchWorkers: string[] };
  w.__benchWorkers = [];
  const Base = window.Worker;
  window.Worker = class extends Base {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      w.__benchWorkers.push(`${options?.name ?? ''} ${String(url)}`.trim());
    }
  };
}

interface OnnxSide extends OnnxThreadsResult {
  workers: string[];
}

async function onnxPage(origin: string, numThreads: number): Promise<OnnxSide> {
  const session = new Session(`${origin}/harness.html`, log, recordWorkers);
  try {
    await session.open();
    const result = await session.call(ONNX_CAP_S, (a) => window.aspoHarness!.benchOnnxThreads(a), { modelUrl: TINY_URL, numThreads, ...ONNX_REQUEST });
    const workers = await session.page.evaluate(() => (window as unknown as { __benchWorkers: string[] }).__benchWorkers);
    return { ...result, workers };
  } finally {
    await session.close();
  }
}

async function onnxThreadsPart() {
  const threads = cpus().length;
  if (threads < 2) return skipped(`this machine has ${threads} core: there is nothing to compare one thread with`);
  return withPreview(log, async (origin) => {
    const sides: Record<'one' | 'many', OnnxSide[]> = { one: [], many: [] };
    for (let r = 0; r < ONNX_ROUNDS; r++) {
      for (const [key, n] of [['one', 1], ['many', threads]] as const) {
        log(`onnxThreads round ${r + 1} of ${ONNX_ROUNDS}: ${n} thread(s)`);
        sides[key].push(await onnxPage(origin, n));
      }
    }
    const side = (list: OnnxSide[]) => {
      const ms = list.flatMap((s) => s.runsMs);
      const m = median(ms);
      const last = list[list.length - 1];
      return {
        numThreadsAsked: last.numThreadsAsked,
        numThreadsAfterLoad: list.map((s) => s.numThreadsAfterLoad),
        workersStarted: list.map((s) => s.workers.length),
        workerScripts: [...new Set(list.flatMap((s) => s.workers))],
        device: last.device,
        loadMs: list.map((s) => round(s.loadMs, 0)),
        runsMs: ms.map((x) => round(x, 1)),
        medianMs: round(m, 1),
        responseTokens: last.responseTokens,
        tokensPerS: round(last.responseTokens / (m / 1000), 1),
      };
    };
    const one = side(sides.one);
    const many = side(sides.many);
    const isolated = sides.many.every((s) => s.crossOriginIsolated);
    return {
      model: `${TINY_URL} (tests/fixtures/models/tiny-smolvlm, onnx/*.onnx fp32), the ONNX engine's logprobs`,
      crossOriginIsolated: isolated,
      hardwareConcurrency: sides.many[0].hardwareConcurrency,
      request: { prompt: ONNX_REQUEST.prompt, responses: ONNX_REQUEST.responses.length, warmupRuns: ONNX_REQUEST.warmupRuns, runsPerPage: ONNX_REQUEST.runs },
      rounds: ONNX_ROUNDS,
      oneThread: one,
      threads: many,
      threadsOverOneThread: isolated
        ? round(one.medianMs / many.medianMs, 2)
        : skipped('the page was not cross-origin isolated (no COOP/COEP headers from vite preview), so ONNX Runtime ran one thread on both sides'),
    };
  });
}

// ---------------------------------------------------------------------------

async function main() {
  const loadAtStart = load();
  const wasmInfo = await startNodeBackend('wasm');
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const notSelected = () => skipped(`not selected (BENCH_PARTS=${process.env.BENCH_PARTS})`);

  const matmul = selected('matmul') ? await matmulPart() : notSelected();
  const peak = isSkipped(matmul) ? { cpu: null, wasm: null } : matmul.peakGflops;
  const tiny = selected('tiny') ? await modelPart(TINY, peak) : notSelected();
  const onnxThreads = selected('onnxThreads') ? await onnxThreadsPart() : notSelected();
  const m256 = selected('m256') ? await modelPart(M256, peak) : notSelected();

  const goal = isSkipped(m256)
    ? skipped('the 256M-shaped model was not measured')
    : { lora256mStepWasmOverCpu: m256.wasmOverCpu.trainStep, target: 10, met: m256.wasmOverCpu.trainStep >= 10 };
  const result = {
    benchmark: 'CPU backends: TF.js wasm vs cpu in Node (matmul peak, log-probs, LoRA step, memory) and ONNX Runtime WebAssembly threads in Chromium',
    date: new Date().toISOString(),
    machine: machine(),
    node: process.version,
    loadAverage: { start: loadAtStart, end: load(), note: 'os.loadavg() (1, 5, 15 min): other work on this machine slows both sides of every ratio alike only as far as it stays steady' },
    backends: { wasm: { threads: wasmInfo.threads, simd, package: '@tensorflow/tfjs-backend-wasm 4.22 (XNNPACK; one thread in Node, tfjs#3830)' }, cpu: { package: '@tensorflow/tfjs 4.22 pure-JS cpu backend' } },
    goal,
    definitions: {
      rounds: 'every round runs each backend in turn (cpu, then wasm) on a model built again on that backend; medians over all rounds',
      logprobs: "TfjsEngine.responseLogprobs with adapters on, of a batch of 2 synthetic responses after a text prompt (bench:engine's benchLogprobs), read back with await data(); an untimed 2-token forward first in every round; tokensPerS = response tokens / median time",
      trainStep:
        "one step of the trainer, optimizerStep (src/train/optimizerStep.ts), objective DPO (β 0.1, lr 1e-3, the trainer's other defaults: gradient clipping, its Adam) on LoRA (r 8, α 16, every decoder linear), on one synthetic pair (response 0 chosen, response 1 rejected; reference log-probs computed before, untimed); an untimed step on 2-token responses first in every round; timed until the last variable is read back",
      flops:
        'matrix products only, 2·m·n·k each, counted from the config: logprobs = F_linear + F_lora + F_attention + F_head (F_linear: the 7 decoder linears at every token; F_lora: 2·r·(in + out) per adapted linear and token; F_attention: 4·H·T²·head_dim per layer and sequence, QKᵀ and PV over the full T×T; F_head: the LM head at the response positions); trainStep = 2·F_linear + 3·F_lora + 3·F_attention + 2·F_head (the forward, then the backward: input gradients through every product — the frozen matrices get no weight gradient — and the LoRA weights\' gradients); gflops = FLOPs / median time; ofMatmulPeak = that over the best matmul GFLOP/s of the same backend',
      matmul: 'tf.matMul of two n×n float32 matrices, read back; GFLOP/s = 2n³ / median time; peakGflops = the best size',
      matmulLinear:
        "the decoder's gate/up projection of the m256 part as Linear.apply computes it, x·Wᵀ with W [out, in] (matMul transposeB), and with W stored transposed ([in, out], no transposeB), alternated run by run; transposeBOverPretransposed > 1: the layout the model uses now is that many times slower",
      longestTrainingPairOnWasm: "memoryFit.ts's longest pair of sequences (half of each the response, text only) whose LoRA step fits wasm32 by its estimate",
      trainerPairCutOnWasm: "the tokens (prompt and response) the trainer cuts each sequence of a pair to on wasm (TfjsEngine.trainingPairLimit: the same estimate with every token a response token), where the window and maxSeqLen allow more",
      memory:
        "one more LoRA step of the same shape in the first round, under tf.profile: peakTensorBytes (the tensors TF.js holds, its bookkeeping: on wasm a tensor that shares another's memory is counted again), wasmHeapBytes (the WebAssembly module's memory buffer after the step: it only grows, in steps of up to 20 %, so it is the most the heap has held in this process), rssBytes and maxRssBytes (the whole process); estimate: memoryFit.ts's working set of this step, which the loader checks against the 4 GiB of wasm32 (WASM32_HEAP_BYTES = 4 GiB − 64 KiB)",
      onnxThreads:
        "the ONNX engine (transformers.js, ONNX Runtime Web's WebAssembly) on the tiny SmolVLM in Chromium, env.backends.onnx.wasm.numThreads set before the first session, a fresh browser and page per setting and round; threadsOverOneThread = one-thread median time / threads' median time; workersStarted counts the page's new Worker calls (ONNX Runtime's threads are workers)",
    },
    matmul,
    models: { tinySmolvlm: tiny, smolvlm256mRandom: m256 },
    onnxThreads,
    testCommandTime: skipped(
      "not measured by this benchmark (it would run the whole suite): the README's test command is timed on a fresh clone before and after issue 11, and both times are recorded in the README's Benchmarks section",
    ),
    totalSeconds: round(clock.elapsedS(), 1),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench-cpu: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
