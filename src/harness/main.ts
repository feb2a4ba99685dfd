/**
 * Test-and-benchmark harness (`harness.html`): no UI beyond a status line. It sets `window.aspoHarness`, an object of
 * async functions that Playwright (e2e/engine.spec.ts) and the benchmark (scripts/bench-engine.ts) call through
 * `page.evaluate`. Every argument and result is plain data, so it crosses the page boundary unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { env, RawImage, type PreTrainedTokenizer } from '@huggingface/transformers';
import { initBackend, type BackendName } from '../tf/backend';
import { parseModelConfig, type Idefics3Config } from '../models/config';
import type { MllmEngine, ResponseLogprobs } from '../models/engine';
import { SMOLVLM_256M_INSTRUCT } from '../models/knownConfigs';
import { MODEL_CACHE_NAME, hubSource, urlPrefixSource } from '../models/sources';
import { loadTfjsEngine, TfjsEngine, type EncodedPrompt, type EncodedResponse } from '../models/tfjs/engine';
import { loadIdefics3Model, parameterCount, randomWeights } from '../models/tfjs/weights';
import { Prng } from '../models/prng';
import { loadClipScorer, type ClipScorer } from '../models/clip';
import { loadOnnxEngine, type OnnxDevice, type OnnxEngine } from '../models/onnx/engine';
import { sandboxPairs } from '../data/sandbox';
import type { PreferencePair } from '../data/pairs';
import { epochOrder } from '../train/dataOrder';
import { sandboxImageLoader } from '../train/pairPreparation';
import { loraOptions, Trainer } from '../train/trainer';
import { resolveSettings, type TrainSettings, type TrainSettingsInput } from '../train/settings';
import { sumTensors } from '../tf/sum';

// The image processor runs a tiny ONNX op (bilinear resize) through onnxruntime-web: every load (transformersEnv's
// withSource) points it at the app's own copy of the WebAssembly files (never a CDN). ONNX Runtime then loads them
// by URL itself: a pre-load through transformers.js' env.fetch would be refused, since that fetch answers model
// files only.
env.useWasmCache = false;

export interface ImagePixels {
  /** Row-major pixel bytes (0–255), `channels` per pixel. */
  data: number[];
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export interface LogprobsArgs {
  /** URL prefix of a model folder, e.g. `/models/tiny-smolvlm`. */
  modelUrl: string;
  prompt: string;
  responses: string[];
  imagePixels?: ImagePixels;
  adapters?: boolean;
  /** Which engine scores: the TF.js one (default) or the ONNX one (transformers.js, WebGPU where it works). */
  engine?: 'tfjs' | 'onnx';
}

export interface HubLogprobsArgs extends Omit<LogprobsArgs, 'modelUrl'> {
  /** Hub (or mirror) root, e.g. `http://127.0.0.1:1234`. */
  endpoint: string;
  /** `owner/name`. */
  id: string;
}

export interface HubLogprobsResult {
  results: ResponseLogprobs[];
  /** For the files loaded with progress (config.json, model.safetensors): whether the bytes came from the cache. */
  fromCache: Record<string, boolean>;
}

export type BenchModel = { kind: 'url'; url: string } | { kind: 'random-smolvlm-256m'; seed: number };

export interface BenchLoadResult {
  backend: string;
  parameters: number;
  loadMs: number;
  imageSeqLen: number;
  vocabSize: number;
  memory: MemoryInfo;
}

export interface MemoryInfo {
  numBytes: number;
  numTensors: number;
}

export interface BenchShape {
  image: boolean;
  /** Text tokens of the prompt (image tokens come on top). */
  promptTokens: number;
  /** Tokens of each of the two responses. */
  responseTokens: number;
}

export interface BenchRunOptions extends BenchShape {
  runs: number;
  /**
   * 'full': one untimed run of the same shape first; 'short': an untimed run on 2-token responses (cheaper);
   * 'none': no untimed run (the caller warmed up with an earlier measurement).
   */
  warmup: 'full' | 'short' | 'none';
}

export interface TimingResult {
  runsMs: number[];
  medianMs: number;
  /** Length of each sequence fed to the decoder (prompt, image tokens and response). */
  sequenceLength: number;
  batch: number;
  /** Response tokens scored per run (both responses). */
  responseTokens: number;
}

export interface LogprobsTiming extends TimingResult {
  tokensPerS: number;
}

export interface TrainStepTiming extends TimingResult {
  loss: number[];
  trainableParameters: number;
  memoryBeforeFirstStep: MemoryInfo;
  memoryAfterFirstStep: MemoryInfo;
  memoryAfterLastStep: MemoryInfo;
}

export type FeatureMode = 'compute' | 'reuse' | 'synthetic';

/** The tiny CLIP loaded fresh for the scoring benchmark (scripts/bench-score.ts). */
export interface ClipBenchLoadArgs {
  modelUrl: string;
  device: OnnxDevice;
  imagePixels: ImagePixels;
}

export interface ClipBenchLoadResult {
  /** The device ONNX Runtime Web runs on (after any fallback). */
  device: OnnxDevice;
  fallbackReason: string | null;
  contextLength: number;
  loadMs: number;
}

export interface ClipBenchScoreResult {
  ms: number;
  /** Runs of the text tower this call made: 1 batched, or one per sentence (0 would mean the cache answered). */
  textRuns: number;
}

export interface EnginesBenchLoadArgs {
  modelUrl: string;
  onnxDevice: OnnxDevice;
  imagePixels: ImagePixels;
}

export interface EnginesBenchLoadResult {
  onnx: { device: OnnxDevice; fallbackReason: string | null; loadMs: number };
  tfjs: { backend: string; loadMs: number };
}

export interface EngineLogprobsResult {
  ms: number;
  /** Response tokens scored (all responses). */
  responseTokens: number;
  /** Σ log-probs of each response (to check that both engines compute the same function). */
  totals: number[];
}

/** One way of training, run by {@link AspoHarness.benchTrainer}. */
export interface TrainerBenchVariant {
  name: string;
  objective: 'aspo' | 'dpo';
  /**
   * 'cached': the Trainer's normal path (reference log-probs computed once per pair in prepare()); 'recompute': before
   * each step, the reference log-probs of the step's pairs are computed again (`responseLogprobs(…, false)` for chosen
   * and rejected), as a trainer without the cache would.
   */
  reference: 'cached' | 'recompute';
}

export interface TrainerBenchSetupArgs {
  backend: BackendName;
  model: BenchModel;
  variants: TrainerBenchVariant[];
  /** The first N sandbox training pairs (default all 24). */
  pairs?: number;
  /** Overrides of the default training settings (the objective comes from each variant). */
  settings?: TrainSettingsInput;
  /**
   * For random-smolvlm-256m: the pairs are text-only (the random model has no image processor; the vision tower is
   * frozen and its features cached, so a step does not run it anyway) and tokenized with the tiny SmolVLM's tokenizer,
   * and each response is truncated to this many tokens (maxSeqLen = prompt + responseTokens).
   */
  responseTokens?: number;
}

export interface TrainerBenchSetupResult {
  backend: string;
  parameters: number;
  trainableParameters: number;
  loadMs: number;
  /** Wall time of Trainer.prepare() per variant (encoding, vision features, reference log-probs of every pair). */
  prepareMs: Record<string, number>;
  settings: TrainSettings;
  pairs: number;
  withImages: boolean;
  /** Tokens of the first pair: prompt (image tokens included) and responses after truncation. */
  firstPair: { promptTokens: number; chosenTokens: number; rejectedTokens: number };
  notices: string[];
}

export interface TrainerBenchArgs {
  /** Names of set-up variants to step; default all. */
  variants?: string[];
  /** Measured rounds: each runs one step of every variant, the order rotated by one per round. */
  rounds: number;
  /** Untimed rounds first. */
  warmupRounds: number;
}

export interface TrainerBenchResult {
  backend: string;
  /** Wall time of each measured step (for 'recompute': the reference forwards plus Trainer.step). */
  runsMs: Record<string, number[]>;
  /** Of runsMs, the part spent recomputing the reference ('recompute' variants). */
  referenceMs: Record<string, number[]>;
  warmupMs: Record<string, number[]>;
  losses: Record<string, number[]>;
  skippedSteps: string[];
  memoryBefore: MemoryInfo;
  memoryAfter: MemoryInfo;
}

export interface AspoHarness {
  backend(): string;
  setBackend(name: BackendName): Promise<string>;
  memory(): MemoryInfo;
  /** Σ xᵢ² · (i + 1) over x = [1, 2, 3, 4] (= 100) on the active backend, read back with `await data()`. */
  probe(): Promise<{ backend: string; value: number }>;
  logprobs(args: LogprobsArgs): Promise<ResponseLogprobs[]>;
  logprobsFromHub(args: HubLogprobsArgs): Promise<HubLogprobsResult>;
  clearModelCache(): Promise<boolean>;
  benchLoad(model: BenchModel): Promise<BenchLoadResult>;
  /**
   * Image features for the benchmarks with an image: 'compute' times one run of the vision tower (and keeps a copy);
   * 'reuse' takes the copy an earlier load of the same model computed (on another backend); 'synthetic' makes
   * random features of the right shape (the decoder's cost does not depend on their values).
   */
  benchImageFeatures(opts: { mode: FeatureMode }): Promise<{ ms: number | null; mode: FeatureMode; backend: string }>;
  benchLogprobs(opts: BenchRunOptions): Promise<LogprobsTiming>;
  benchTrainStep(opts: BenchRunOptions & { learningRate?: number; beta?: number }): Promise<TrainStepTiming>;
  benchUnload(): Promise<MemoryInfo>;
  benchClipLoad(args: ClipBenchLoadArgs): Promise<ClipBenchLoadResult>;
  /** Scores `sentences` against the loaded image: all in one call (batched), or one call per sentence. */
  benchClipScore(args: { sentences: string[]; oneAtATime: boolean }): Promise<ClipBenchScoreResult>;
  benchClipUnload(): Promise<void>;
  /** Loads the ONNX engine and the TF.js engine (on the active backend) of one model folder. */
  benchEnginesLoad(args: EnginesBenchLoadArgs): Promise<EnginesBenchLoadResult>;
  /** `engine.logprobs` (the MllmEngine interface) of `responses` for `prompt`, with the loaded image or without. */
  benchEngineLogprobs(args: { engine: 'onnx' | 'tfjs'; prompt: string; responses: string[]; withImage: boolean }): Promise<EngineLogprobsResult>;
  benchEnginesUnload(): Promise<MemoryInfo>;
  /** Loads a model on `backend` and a real Trainer per variant on the sandbox pairs, and runs each one's prepare(). */
  benchTrainerSetup(args: TrainerBenchSetupArgs): Promise<TrainerBenchSetupResult>;
  /** Steps the set-up trainers (interleaved, on the main thread) and times each step. */
  benchTrainer(args: TrainerBenchArgs): Promise<TrainerBenchResult>;
  benchTrainerUnload(): Promise<MemoryInfo>;
}

declare global {
  interface Window {
    aspoHarness?: AspoHarness;
  }
}

const statusLine = document.getElementById('status')!;

function status(text: string, state: 'loading' | 'ready' | 'busy' | 'error'): void {
  statusLine.textContent = text;
  statusLine.dataset.state = state;
  statusLine.dataset.backend = tf.getBackend() ?? '';
}

function memory(): MemoryInfo {
  const m = tf.memory();
  return { numBytes: m.numBytes, numTensors: m.numTensors };
}

function rawImage(p: ImagePixels): RawImage {
  if (p.data.length !== p.width * p.height * p.channels) {
    throw new Error(`imagePixels has ${p.data.length} values, expected ${p.width}×${p.height}×${p.channels}`);
  }
  return new RawImage(Uint8ClampedArray.from(p.data), p.width, p.height, p.channels);
}

/** Plain data only (no tensors, no class instances) so that page.evaluate returns it intact. */
function plain(results: ResponseLogprobs[]): ResponseLogprobs[] {
  return results.map(({ inputIds, responseStart, tokens, total, eosIndex, fullLength, cut }) => ({
    inputIds,
    responseStart,
    tokens: tokens.map((t) => ({ ...t })),
    total,
    eosIndex,
    fullLength,
    cut,
  }));
}

/** One busy call at a time, with the status line saying which. */
let queue: Promise<unknown> = Promise.resolve();
function serial<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const run = queue.then(async () => {
    status(`${what}…`, 'busy');
    try {
      const out = await fn();
      status(`ready (${tf.getBackend()})`, 'ready');
      return out;
    } catch (err) {
      status(`${what} failed: ${(err as Error).message}`, 'ready');
      throw err;
    }
  });
  queue = run.catch(() => undefined);
  return run;
}

// ---------------------------------------------------------------------------
// Log-probs through the real engine
// ---------------------------------------------------------------------------

const engines = new Map<string, Promise<MllmEngine>>();

function engineFor(modelUrl: string, kind: 'tfjs' | 'onnx' = 'tfjs'): Promise<MllmEngine> {
  const key = `${kind}|${tf.getBackend()}|${modelUrl}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = kind === 'onnx' ? loadOnnxEngine(urlPrefixSource(modelUrl)) : loadTfjsEngine(urlPrefixSource(modelUrl));
    engines.set(key, engine);
    engine.catch(() => engines.delete(key));
  }
  return engine;
}

async function logprobs(args: LogprobsArgs): Promise<ResponseLogprobs[]> {
  const engine = await engineFor(args.modelUrl, args.engine);
  const image = args.imagePixels ? rawImage(args.imagePixels) : undefined;
  return plain(await engine.logprobs({ prompt: args.prompt, responses: args.responses, image, adapters: args.adapters }));
}

async function logprobsFromHub(args: HubLogprobsArgs): Promise<HubLogprobsResult> {
  const fromCache: Record<string, boolean> = {};
  // No in-memory reuse: every call goes through hubSource and its Cache Storage.
  const engine = await loadTfjsEngine(hubSource(args.id, { endpoint: args.endpoint }), {
    onProgress: (p) => {
      fromCache[p.file] = p.fromCache;
    },
  });
  try {
    const image = args.imagePixels ? rawImage(args.imagePixels) : undefined;
    const results = await engine.logprobs({ prompt: args.prompt, responses: args.responses, image, adapters: args.adapters });
    return { results: plain(results), fromCache };
  } finally {
    engine.dispose();
  }
}

// ---------------------------------------------------------------------------
// Benchmarks: synthetic token ids through TfjsEngine.responseLogprobs (the method training calls)
// ---------------------------------------------------------------------------

interface BenchState {
  key: string;
  engine: TfjsEngine;
  config: Idefics3Config;
  imageFeatures?: tf.Tensor3D;
}

let bench: BenchState | null = null;
/** Image features (downloaded) per model key, so a second backend can reuse what the first computed. */
const featureCopies = new Map<string, { data: Float32Array; shape: [number, number, number] }>();

function benchKey(model: BenchModel): string {
  return model.kind === 'url' ? `url:${model.url}` : `random-smolvlm-256m:${model.seed}`;
}

function disposeBench(): void {
  if (!bench) return;
  bench.imageFeatures?.dispose();
  bench.engine.dispose();
  bench = null;
}

async function benchLoad(model: BenchModel): Promise<BenchLoadResult> {
  disposeBench();
  const t0 = performance.now();
  let engine: TfjsEngine;
  if (model.kind === 'url') {
    engine = await loadTfjsEngine(urlPrefixSource(model.url));
    if (engine.config.modelType !== 'idefics3') throw new Error(`${model.url} is not a SmolVLM (Idefics3) model`);
  } else {
    const config = parseModelConfig(SMOLVLM_256M_INSTRUCT) as Idefics3Config;
    let weights: ReturnType<typeof randomWeights> | null = randomWeights(config, model.seed);
    const built = loadIdefics3Model(config, weights);
    weights = null;
    // Token ids are synthetic: the engine's tokenizer and processor are never used by responseLogprobs.
    engine = new TfjsEngine(
      config,
      built,
      null as unknown as PreTrainedTokenizer,
      null,
      { contentAsParts: true, endOfTurnId: 49279 },
      'random SmolVLM-256M-shaped model',
    );
  }
  // Make sure every weight is on the backend before the clock stops.
  const probe = tf.tidy(() => sumTensors(engine.model.lora.variables().map((v) => v.sum())));
  await probe.data();
  probe.dispose();
  const config = engine.config as Idefics3Config;
  bench = { key: benchKey(model), engine, config };
  const side = config.vision.imageSize / config.vision.patchSize;
  return {
    backend: tf.getBackend(),
    parameters: parameterCount(config),
    loadMs: performance.now() - t0,
    imageSeqLen: (side * side) / (config.scaleFactor * config.scaleFactor),
    vocabSize: config.text.vocabSize,
    memory: memory(),
  };
}

function current(): BenchState {
  if (!bench) throw new Error('no benchmark model loaded: call benchLoad first');
  return bench;
}

async function benchImageFeatures(opts: { mode: FeatureMode }) {
  const b = current();
  b.imageFeatures?.dispose();
  b.imageFeatures = undefined;
  const backend = tf.getBackend();
  if (opts.mode === 'reuse') {
    const copy = featureCopies.get(b.key);
    if (!copy) throw new Error(`no image features of ${b.key} to reuse: compute them first`);
    b.imageFeatures = tf.tensor3d(copy.data, copy.shape);
    return { ms: null, mode: opts.mode, backend };
  }
  const side = b.config.vision.imageSize / b.config.vision.patchSize;
  if (opts.mode === 'synthetic') {
    const n = (side * side) / (b.config.scaleFactor * b.config.scaleFactor);
    b.imageFeatures = tf.randomNormal([1, n, b.config.text.hiddenSize], 0, 1, 'float32', 7) as tf.Tensor3D;
    return { ms: null, mode: opts.mode, backend };
  }
  const { imageSize, numChannels } = b.config.vision;
  const prng = new Prng(7);
  const values = new Float32Array(numChannels * imageSize * imageSize);
  for (let i = 0; i < values.length; i++) values[i] = prng.uniform(-1, 1);
  const pixels = tf.tensor4d(values, [1, numChannels, imageSize, imageSize]);
  const t0 = performance.now();
  const features = (b.engine.model as { visionFeatures(p: tf.Tensor4D): tf.Tensor3D }).visionFeatures(pixels);
  const data = (await features.data()) as Float32Array;
  const ms = performance.now() - t0;
  pixels.dispose();
  b.imageFeatures = features;
  featureCopies.set(b.key, { data, shape: features.shape as [number, number, number] });
  return { ms, mode: opts.mode, backend };
}

/** A prompt of `promptTokens` text ids (plus the image tokens) and two responses, as the engine would encode them. */
function syntheticBatch(b: BenchState, shape: BenchShape, seed: number): { encoded: EncodedPrompt; batch: EncodedResponse[] } {
  if (shape.image && !b.imageFeatures) throw new Error('call benchImageFeatures before a benchmark with an image');
  const { vocabSize } = b.config.text;
  const imageId = b.config.imageTokenId;
  const prng = new Prng(seed);
  const token = () => {
    for (;;) {
      const id = 3 + Math.floor(prng.next() * (vocabSize - 3));
      if (id !== imageId) return id;
    }
  };
  const text = Array.from({ length: Math.max(1, shape.promptTokens) }, token);
  const imageTokens = shape.image ? Array<number>(b.imageFeatures!.shape[1]).fill(imageId) : [];
  const promptIds = [1, ...text.slice(0, 2), ...imageTokens, ...text.slice(2)];
  const encoded: EncodedPrompt = { promptIds, imageFeatures: shape.image ? b.imageFeatures : undefined };
  const batch = [0, 1].map(() => {
    const ids = Array.from({ length: shape.responseTokens }, token);
    const offsets = ids.map((_, k) => [k, k + 1] as [number, number]);
    return {
      inputIds: [...promptIds, ...ids],
      responseStart: promptIds.length,
      tokens: { ids, texts: ids.map(String), offsets, eosIndex: ids.length - 1 },
    } as EncodedResponse;
  });
  return { encoded, batch };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, c) => a - c);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timedLogprobs(b: BenchState, encoded: EncodedPrompt, batch: EncodedResponse[], adapters: boolean): Promise<number> {
  const t0 = performance.now();
  const out = b.engine.responseLogprobs(encoded, batch.map((r) => r.tokens), adapters);
  await out.data();
  out.dispose();
  return performance.now() - t0;
}

async function benchLogprobs(opts: BenchRunOptions): Promise<LogprobsTiming> {
  const b = current();
  const { encoded, batch } = syntheticBatch(b, opts, 11);
  if (opts.warmup === 'full') await timedLogprobs(b, encoded, batch, true);
  else if (opts.warmup === 'short') {
    const short = syntheticBatch(b, { ...opts, responseTokens: 2 }, 12);
    await timedLogprobs(b, short.encoded, short.batch, true);
  }
  const runsMs: number[] = [];
  for (let i = 0; i < opts.runs; i++) runsMs.push(await timedLogprobs(b, encoded, batch, true));
  const medianMs = median(runsMs);
  const responseTokens = batch.reduce((n, r) => n + r.tokens.ids.length, 0);
  return {
    runsMs,
    medianMs,
    sequenceLength: batch[0].inputIds.length,
    batch: batch.length,
    responseTokens,
    tokensPerS: responseTokens / (medianMs / 1000),
  };
}

async function benchTrainStep(opts: BenchRunOptions & { learningRate?: number; beta?: number }): Promise<TrainStepTiming> {
  const b = current();
  const beta = opts.beta ?? 0.1;
  const variables = b.engine.model.lora.variables();
  const optimizer = tf.train.adam(opts.learningRate ?? 1e-3);
  /** One DPO step: response 0 is chosen, response 1 rejected; the reference is the same model with adapters off. */
  const step = async (encoded: EncodedPrompt, batch: EncodedResponse[]): Promise<{ ms: number; loss: number }> => {
    const reference = b.engine.responseLogprobs(encoded, batch.map((r) => r.tokens), false);
    const mask = tf.tensor2d(batch.map((r) => Array.from({ length: reference.shape[1] }, (_, k) => (k < r.tokens.ids.length ? 1 : 0))));
    await reference.data();
    const t0 = performance.now();
    // No tf.tidy inside: minimize already runs the loss in one, and an inner tidy would free tensors the backward
    // pass still reads (on the CPU backend that fails at once).
    const loss = optimizer.minimize(
      () => {
        const policy = b.engine.responseLogprobs(encoded, batch.map((r) => r.tokens), true);
        const logRatio = policy.sub(reference).mul(mask).sum(1); // [2]: Σ_t log π/π_ref per response
        const margin = logRatio.slice([0], [1]).sub(logRatio.slice([1], [1]));
        // −log σ(β·margin) = softplus(−β·margin)
        return tf.softplus(margin.mul(-beta)).sum() as tf.Scalar;
      },
      true,
      variables,
    )!;
    const value = (await loss.data())[0];
    // The update is queued after the loss; reading a variable waits for it.
    await variables[variables.length - 1].data();
    const ms = performance.now() - t0;
    tf.dispose([loss, reference, mask]);
    return { ms, loss: value };
  };
  const { encoded, batch } = syntheticBatch(b, opts, 21);
  const memoryBeforeFirstStep = memory();
  try {
    const losses: number[] = [];
    if (opts.warmup === 'full') losses.push((await step(encoded, batch)).loss);
    else if (opts.warmup === 'short') {
      const short = syntheticBatch(b, { ...opts, responseTokens: 2 }, 22);
      await step(short.encoded, short.batch);
    }
    let memoryAfterFirstStep = opts.warmup === 'none' ? null : memory();
    const runsMs: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const r = await step(encoded, batch);
      runsMs.push(r.ms);
      losses.push(r.loss);
      memoryAfterFirstStep ??= memory();
    }
    return {
      runsMs,
      medianMs: median(runsMs),
      sequenceLength: batch[0].inputIds.length,
      batch: batch.length,
      responseTokens: batch.reduce((n, r) => n + r.tokens.ids.length, 0),
      loss: losses,
      trainableParameters: variables.reduce((n, v) => n + v.size, 0),
      memoryBeforeFirstStep,
      memoryAfterFirstStep: memoryAfterFirstStep ?? memory(),
      memoryAfterLastStep: memory(),
    };
  } finally {
    optimizer.dispose();
  }
}

// ---------------------------------------------------------------------------
// Benchmarks: CLIP scoring, ONNX vs TF.js log-probs (scripts/bench-score.ts); the Trainer (scripts/bench-train.ts)
// ---------------------------------------------------------------------------

let clipBench: { scorer: ClipScorer; image: RawImage } | null = null;

async function benchClipLoad(args: ClipBenchLoadArgs): Promise<ClipBenchLoadResult> {
  clipBench?.scorer.dispose();
  clipBench = null;
  const t0 = performance.now();
  const scorer = await loadClipScorer(urlPrefixSource(args.modelUrl), { device: args.device });
  clipBench = { scorer, image: rawImage(args.imagePixels) };
  return { device: scorer.device, fallbackReason: scorer.fallbackReason, contextLength: scorer.contextLength, loadMs: performance.now() - t0 };
}

async function benchClipScore(args: { sentences: string[]; oneAtATime: boolean }): Promise<ClipBenchScoreResult> {
  if (!clipBench) throw new Error('no CLIP loaded: call benchClipLoad first');
  const { scorer, image } = clipBench;
  const before = scorer.calls.text;
  const t0 = performance.now();
  if (args.oneAtATime) for (const sentence of args.sentences) await scorer.similarity(image, [sentence]);
  else await scorer.similarity(image, args.sentences);
  return { ms: performance.now() - t0, textRuns: scorer.calls.text - before };
}

let enginesBench: { onnx: OnnxEngine; tfjs: TfjsEngine; image: RawImage } | null = null;

function disposeEnginesBench(): void {
  enginesBench?.onnx.dispose();
  enginesBench?.tfjs.dispose();
  enginesBench = null;
}

async function benchEnginesLoad(args: EnginesBenchLoadArgs): Promise<EnginesBenchLoadResult> {
  disposeEnginesBench();
  let t0 = performance.now();
  const onnx = await loadOnnxEngine(urlPrefixSource(args.modelUrl), { device: args.onnxDevice });
  const onnxMs = performance.now() - t0;
  t0 = performance.now();
  const tfjs = await loadTfjsEngine(urlPrefixSource(args.modelUrl));
  const tfjsMs = performance.now() - t0;
  enginesBench = { onnx, tfjs, image: rawImage(args.imagePixels) };
  return {
    onnx: { device: onnx.device, fallbackReason: onnx.fallbackReason, loadMs: onnxMs },
    tfjs: { backend: tf.getBackend(), loadMs: tfjsMs },
  };
}

async function benchEngineLogprobs(args: { engine: 'onnx' | 'tfjs'; prompt: string; responses: string[]; withImage: boolean }): Promise<EngineLogprobsResult> {
  if (!enginesBench) throw new Error('no engines loaded: call benchEnginesLoad first');
  const engine = enginesBench[args.engine];
  const t0 = performance.now();
  const results = await engine.logprobs({
    prompt: args.prompt,
    responses: args.responses,
    image: args.withImage ? enginesBench.image : undefined,
    adapters: false,
  });
  const ms = performance.now() - t0;
  return { ms, responseTokens: results.reduce((n, r) => n + r.tokens.length, 0), totals: results.map((r) => r.total) };
}

interface TrainerBenchRun {
  variant: TrainerBenchVariant;
  trainer: Trainer;
  /** The next batch, predicted the way the Trainer draws it (seeded order per epoch), for 'recompute'. */
  epoch: number;
  cursor: number;
}

interface TrainerBenchState {
  engine: TfjsEngine;
  runs: TrainerBenchRun[];
  /** Per pair: the encoded prompt and the response ids after truncation (what the Trainer caches), for 'recompute'. */
  encoded: { encoded: EncodedPrompt; chosen: number[]; rejected: number[] }[];
  batchSize: number;
  seed: number;
}

let trainerBench: TrainerBenchState | null = null;

function disposeTrainerBench(): void {
  if (!trainerBench) return;
  for (const r of trainerBench.runs) r.trainer.dispose();
  trainerBench.engine.dispose();
  trainerBench = null;
}

/** The random SmolVLM-256M-shaped model, with the tiny SmolVLM's tokenizer (ids < 699 are valid ids of its vocabulary). */
async function random256mEngine(lora: ReturnType<typeof loraOptions>, seed: number): Promise<TfjsEngine> {
  const tiny = await loadTfjsEngine(urlPrefixSource('/models/tiny-smolvlm'));
  tiny.dispose();
  const config = parseModelConfig(SMOLVLM_256M_INSTRUCT) as Idefics3Config;
  const built = loadIdefics3Model(config, randomWeights(config, seed), lora);
  return new TfjsEngine(config, built, tiny.tokenizer, null, { contentAsParts: true, endOfTurnId: tiny.format.endOfTurnId }, 'random SmolVLM-256M-shaped model');
}

async function benchTrainerSetup(args: TrainerBenchSetupArgs): Promise<TrainerBenchSetupResult> {
  disposeTrainerBench();
  disposeBench();
  if (!(await tf.setBackend(args.backend))) throw new Error(`tf.setBackend('${args.backend}') failed`);
  await tf.ready();
  if (args.variants.length === 0) throw new Error('no variants');
  const random = args.model.kind === 'random-smolvlm-256m';
  let pairs: PreferencePair[] = sandboxPairs().train.slice(0, args.pairs ?? undefined);
  if (random) pairs = pairs.map(({ image: _image, ...rest }) => rest);
  let settings = resolveSettings({ ...args.settings, objective: args.variants[0].objective, steps: 100_000 });
  const t0 = performance.now();
  const engine =
    args.model.kind === 'url'
      ? await loadTfjsEngine(urlPrefixSource(args.model.url), { lora: loraOptions(settings) })
      : await random256mEngine(loraOptions(settings), args.model.seed);
  const probe = tf.tidy(() => sumTensors(engine.model.lora.variables().map((v) => v.sum())));
  await probe.data();
  probe.dispose();
  const loadMs = performance.now() - t0;
  try {
    // What the Trainer caches per pair, kept here too for the 'recompute' variants.
    const encoded = [];
    for (const pair of pairs) {
      const image = pair.image !== undefined ? await sandboxImageLoader(pair.image, pair) : undefined;
      encoded.push({ pair, encoded: await engine.encodePrompt(pair.prompt, image) });
    }
    if (random && args.responseTokens) {
      const longest = Math.max(...encoded.map((e) => e.encoded.promptIds.length));
      settings = resolveSettings({ ...args.settings, maxSeqLen: longest + args.responseTokens, objective: args.variants[0].objective, steps: 100_000 });
    }
    const room = (e: EncodedPrompt) => settings.maxSeqLen - e.promptIds.length;
    const prepared = encoded.map(({ pair, encoded: e }) => ({
      encoded: e,
      chosen: engine.encodeResponse(e, pair.prompt, pair.chosen).tokens.ids.slice(0, room(e)),
      rejected: engine.encodeResponse(e, pair.prompt, pair.rejected).tokens.ids.slice(0, room(e)),
    }));
    const runs: TrainerBenchRun[] = [];
    const prepareMs: Record<string, number> = {};
    const notices: string[] = [];
    trainerBench = { engine, runs, encoded: prepared, batchSize: settings.batchSize, seed: settings.seed };
    for (const variant of args.variants) {
      const trainer = new Trainer({ engine, pairs, settings: { ...settings, objective: variant.objective } });
      runs.push({ variant, trainer, epoch: 0, cursor: 0 });
      const p0 = performance.now();
      await trainer.prepare();
      prepareMs[variant.name] = performance.now() - p0;
      for (const n of trainer.notices) if (!notices.includes(n)) notices.push(n);
    }
    return {
      backend: tf.getBackend(),
      parameters: parameterCount(engine.config as Idefics3Config),
      trainableParameters: engine.model.lora.variables().reduce((n, v) => n + v.size, 0),
      loadMs,
      prepareMs,
      settings,
      pairs: pairs.length,
      withImages: pairs.some((p) => p.image !== undefined),
      firstPair: { promptTokens: prepared[0].encoded.promptIds.length, chosenTokens: prepared[0].chosen.length, rejectedTokens: prepared[0].rejected.length },
      notices,
    };
  } catch (err) {
    if (trainerBench) disposeTrainerBench();
    else engine.dispose();
    throw err;
  }
}

/** The indices of the run's next batch, drawn as the Trainer draws them (every sandbox pair is usable). */
function nextBatch(state: TrainerBenchState, run: TrainerBenchRun): number[] {
  const indices: number[] = [];
  while (indices.length < state.batchSize) {
    if (run.cursor >= state.encoded.length) {
      run.epoch += 1;
      run.cursor = 0;
    }
    indices.push(epochOrder(state.encoded.length, state.seed, run.epoch)[run.cursor++]);
  }
  return indices;
}

async function trainerStep(state: TrainerBenchState, run: TrainerBenchRun): Promise<{ ms: number; referenceMs: number; loss: number; skipped?: string }> {
  const t0 = performance.now();
  const batch = nextBatch(state, run);
  let referenceMs = 0;
  if (run.variant.reference === 'recompute') {
    const refs = batch.map((i) => {
      const p = state.encoded[i];
      return state.engine.responseLogprobs(p.encoded, [{ ids: p.chosen }, { ids: p.rejected }], false);
    });
    await Promise.all(refs.map((r) => r.data()));
    tf.dispose(refs);
    referenceMs = performance.now() - t0;
  }
  const report = await run.trainer.step();
  const ms = performance.now() - t0;
  if (report.pairs.join() !== batch.join()) {
    throw new Error(`the benchmark predicted pairs ${batch.join()} but the Trainer stepped on ${report.pairs.join()}`);
  }
  return { ms, referenceMs, loss: report.metrics.loss, skipped: report.skipped };
}

async function benchTrainer(args: TrainerBenchArgs): Promise<TrainerBenchResult> {
  const state = trainerBench;
  if (!state) throw new Error('no trainers set up: call benchTrainerSetup first');
  const runs = (args.variants ?? state.runs.map((r) => r.variant.name)).map((n) => {
    const run = state.runs.find((r) => r.variant.name === n);
    if (!run) throw new Error(`no variant named ${n} was set up`);
    return run;
  });
  const result: TrainerBenchResult = {
    backend: tf.getBackend(),
    runsMs: {},
    referenceMs: {},
    warmupMs: {},
    losses: {},
    skippedSteps: [],
    memoryBefore: memory(),
    memoryAfter: memory(),
  };
  for (const r of runs) {
    const name = r.variant.name;
    result.runsMs[name] = [];
    result.referenceMs[name] = [];
    result.warmupMs[name] = [];
    result.losses[name] = [];
  }
  for (let round = 0; round < args.warmupRounds + args.rounds; round++) {
    const measured = round >= args.warmupRounds;
    for (let k = 0; k < runs.length; k++) {
      const r = runs[(k + round) % runs.length];
      const name = r.variant.name;
      const step = await trainerStep(state, r);
      if (step.skipped) result.skippedSteps.push(`${name}: ${step.skipped}`);
      if (!measured) {
        result.warmupMs[name].push(step.ms);
        continue;
      }
      result.runsMs[name].push(step.ms);
      result.referenceMs[name].push(step.referenceMs);
      result.losses[name].push(step.loss);
    }
    if (!measured && round === args.warmupRounds - 1) result.memoryBefore = memory();
  }
  result.memoryAfter = memory();
  return result;
}

// ---------------------------------------------------------------------------

const harness: AspoHarness = {
  backend: () => tf.getBackend(),
  setBackend: (name) =>
    serial(`switching to ${name}`, async () => {
      if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
      await tf.ready();
      return tf.getBackend();
    }),
  memory,
  probe: () =>
    serial('probe', async () => {
      const x = tf.tensor1d([1, 2, 3, 4]);
      const y = tf.tidy(() => x.square().mul(tf.range(1, 5)).sum());
      const value = (await y.data())[0];
      tf.dispose([x, y]);
      return { backend: tf.getBackend(), value };
    }),
  logprobs: (args) => serial(`log-probs of ${args.modelUrl}`, () => logprobs(args)),
  logprobsFromHub: (args) => serial(`log-probs of ${args.id}`, () => logprobsFromHub(args)),
  clearModelCache: () => serial('clearing the model cache', () => caches.delete(MODEL_CACHE_NAME)),
  benchLoad: (model) => serial(`loading ${benchKey(model)}`, () => benchLoad(model)),
  benchImageFeatures: (opts) => serial('image features', () => benchImageFeatures(opts)),
  benchLogprobs: (opts) => serial('log-prob benchmark', () => benchLogprobs(opts)),
  benchTrainStep: (opts) => serial('training-step benchmark', () => benchTrainStep(opts)),
  benchClipLoad: (args) => serial('loading CLIP', () => benchClipLoad(args)),
  benchClipScore: (args) => serial('CLIP scoring benchmark', () => benchClipScore(args)),
  benchClipUnload: () =>
    serial('unloading CLIP', async () => {
      clipBench?.scorer.dispose();
      clipBench = null;
    }),
  benchEnginesLoad: (args) => serial('loading the ONNX and TF.js engines', () => benchEnginesLoad(args)),
  benchEngineLogprobs: (args) => serial(`${args.engine} log-prob benchmark`, () => benchEngineLogprobs(args)),
  benchEnginesUnload: () =>
    serial('unloading the engines', async () => {
      disposeEnginesBench();
      return memory();
    }),
  benchTrainerSetup: (args) => serial('setting up the trainers', () => benchTrainerSetup(args)),
  benchTrainer: (args) => serial('trainer benchmark', () => benchTrainer(args)),
  benchTrainerUnload: () =>
    serial('unloading the trainers', async () => {
      disposeTrainerBench();
      return memory();
    }),
  benchUnload: () =>
    serial('unloading', async () => {
      disposeBench();
      for (const [key, engine] of engines) {
        engines.delete(key);
        (await engine.catch(() => null))?.dispose();
      }
      return memory();
    }),
};

initBackend()
  .then((choice) => {
    window.aspoHarness = harness;
    status(`ready (${choice.backend})`, 'ready');
  })
  .catch((err: Error) => status(`no TF.js backend: ${err.message}`, 'error'));
