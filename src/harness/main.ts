/**
 * Test-and-benchmark harness (`harness.html`): no UI beyond a status line. It sets `window.aspoHarness`, an object of
 * async functions that Playwright (e2e/engine.spec.ts) and the benchmark (scripts/bench-engine.ts) call through
 * `page.evaluate`. Every argument and result is plain data, so it crosses the page boundary unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { env, RawImage, type PreTrainedTokenizer } from '@huggingface/transformers';
import { initBackend, type BackendName } from '../tf/backend';
import { ensureOnnxRuntime } from '../models/transformersEnv';
import { parseModelConfig, type Idefics3Config } from '../models/config';
import type { ResponseLogprobs } from '../models/engine';
import { SMOLVLM_256M_INSTRUCT } from '../models/knownConfigs';
import { MODEL_CACHE_NAME, hubSource, urlPrefixSource } from '../models/sources';
import { loadTfjsEngine, TfjsEngine, type EncodedPrompt, type EncodedResponse } from '../models/tfjs/engine';
import { loadIdefics3Model, parameterCount, randomWeights } from '../models/tfjs/weights';
import { Prng } from '../models/tfjs/prng';

// The image processor runs a tiny ONNX op (bilinear resize) through onnxruntime-web: ensureOnnxRuntime points it at
// the app's own copy of the WebAssembly files (never a CDN). ONNX Runtime then loads them by URL itself: a pre-load
// through transformers.js' env.fetch would be refused, since that fetch answers model files only.
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
  return results.map(({ inputIds, responseStart, tokens, total, eosIndex }) => ({
    inputIds,
    responseStart,
    tokens: tokens.map((t) => ({ ...t })),
    total,
    eosIndex,
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

const engines = new Map<string, Promise<TfjsEngine>>();

function engineFor(modelUrl: string): Promise<TfjsEngine> {
  const key = `${tf.getBackend()}|${modelUrl}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = loadTfjsEngine(urlPrefixSource(modelUrl));
    engines.set(key, engine);
    engine.catch(() => engines.delete(key));
  }
  return engine;
}

async function logprobs(args: LogprobsArgs): Promise<ResponseLogprobs[]> {
  const engine = await engineFor(args.modelUrl);
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
    engine = new TfjsEngine(config, built, null as unknown as PreTrainedTokenizer, null, {
      contentAsParts: true,
      endOfTurnId: 49279,
    });
  }
  // Make sure every weight is on the backend before the clock stops.
  const probe = tf.tidy(() => tf.addN(engine.model.lora.variables().map((v) => v.sum())));
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

Promise.all([initBackend(), ensureOnnxRuntime()])
  .then(([choice]) => {
    window.aspoHarness = harness;
    status(`ready (${choice.backend})`, 'ready');
  })
  .catch((err: Error) => status(`no TF.js backend: ${err.message}`, 'error'));
