/**
 * The engine benchmark's page side (scripts/bench-engine.ts): synthetic token ids through
 * `TfjsEngine.responseLogprobs` (the method training calls), and the trainer's own step (`optimizerStep`) on them.
 */
import * as tf from '@tensorflow/tfjs';
import type { Idefics3Config } from '../models/config';
import { Prng } from '../models/prng';
import { urlPrefixSource, type ModelSource } from '../models/sources';
import { loadTfjsEngine, type EncodedPrompt, type EncodedResponse, type TfjsEngine } from '../models/tfjs/engine';
import { parameterCount } from '../models/tfjs/weights';
import { Adam } from '../train/adam';
import { optimizerStep } from '../train/optimizerStep';
import { pairLogps, type PreparedPair } from '../train/pairPreparation';
import { resolveSettings } from '../train/settings';
import { memory, weightsOnBackend } from './page';
import { median, type BenchLoadResult, type BenchModel, type BenchRunOptions, type BenchShape, type FeatureMode, type LogprobsTiming, type MemoryInfo, type TrainStepTiming } from './protocol';
import { randomSmolvlm256m } from './randomModel';

/** SmolVLM's `<end_of_utterance>`: the chat format's end of turn, which `responseLogprobs` never reads. */
const SMOLVLM_END_OF_TURN_ID = 49279;

interface BenchState {
  key: string;
  engine: TfjsEngine;
  config: Idefics3Config;
  imageFeatures?: tf.Tensor3D;
}

let bench: BenchState | null = null;
/** Image features (downloaded) per model key, so a second backend can reuse what the first computed. */
const featureCopies = new Map<string, { data: Float32Array; shape: [number, number, number] }>();

export function benchKey(model: BenchModel): string {
  return model.kind === 'url' ? `url:${model.url}` : `random-smolvlm-256m:${model.seed}`;
}

export function disposeBench(): void {
  if (!bench) return;
  bench.imageFeatures?.dispose();
  bench.engine.dispose();
  bench = null;
}

/** `sourceOf` reads a `url` model: the page's own URLs, or (bench:cpu in Node) the folder the URL serves. */
export async function benchLoad(model: BenchModel, sourceOf: (url: string) => ModelSource = urlPrefixSource): Promise<BenchLoadResult> {
  disposeBench();
  const t0 = performance.now();
  let engine: TfjsEngine;
  if (model.kind === 'url') {
    engine = await loadTfjsEngine(sourceOf(model.url));
    if (engine.config.modelType !== 'idefics3') throw new Error(`${model.url} is not a SmolVLM (Idefics3) model`);
  } else {
    // Token ids are synthetic: the engine's tokenizer and processor are never used by responseLogprobs.
    engine = randomSmolvlm256m(model.seed, { tokenizer: null, format: { contentAsParts: true, endOfTurnId: SMOLVLM_END_OF_TURN_ID } });
  }
  await weightsOnBackend(engine.model.lora.variables());
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

export async function benchImageFeatures(opts: { mode: FeatureMode }) {
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

async function timedLogprobs(b: BenchState, encoded: EncodedPrompt, batch: EncodedResponse[], adapters: boolean): Promise<number> {
  const t0 = performance.now();
  const out = b.engine.responseLogprobs(encoded, batch.map((r) => r.tokens), adapters);
  await out.data();
  out.dispose();
  return performance.now() - t0;
}

export async function benchLogprobs(opts: BenchRunOptions): Promise<LogprobsTiming> {
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

/**
 * The synthetic batch as the trainer prepares a pair: response 0 chosen (one sentence; DPO reads no similarity),
 * response 1 rejected, their reference log-probs (adapters off) computed here, untimed.
 */
async function syntheticPair(b: BenchState, encoded: EncodedPrompt, batch: EncodedResponse[]): Promise<PreparedPair> {
  const [chosen, rejected] = batch.map((r) => r.tokens.ids);
  const ref = await pairLogps(b.engine, encoded, { chosen: { ids: chosen }, rejected: { ids: rejected } }, false);
  return {
    label: 'the synthetic pair',
    encoded,
    chosen: { ids: chosen, refLogps: ref.chosen, tokenSentence: chosen.map(() => 0) },
    rejected: { ids: rejected, refLogps: ref.rejected },
    similarity: [0],
    notices: [],
  };
}

export async function benchTrainStep(opts: BenchRunOptions & { learningRate?: number; beta?: number }): Promise<TrainStepTiming> {
  const b = current();
  const lr = opts.learningRate ?? 1e-3;
  // The trainer's defaults otherwise (gradient clipping at gradClipNorm included).
  const settings = resolveSettings({ objective: 'dpo', beta: opts.beta ?? 0.1, lr });
  const variables = b.engine.model.lora.variables();
  const { encoded, batch } = syntheticBatch(b, opts, 21);
  const pair = await syntheticPair(b, encoded, batch);
  const short = opts.warmup === 'short' ? syntheticBatch(b, { ...opts, responseTokens: 2 }, 22) : null;
  const shortPair = short ? await syntheticPair(b, short.encoded, short.batch) : null;
  // Before the optimizer's moments exist, as a caller measures before its first step.
  const memoryBeforeFirstStep: MemoryInfo = memory();
  const adam = new Adam(variables);
  const ctx = { engine: b.engine, settings, variables, adam };
  const skippedSteps: string[] = [];
  const step = async (p: PreparedPair): Promise<{ ms: number; loss: number }> => {
    const t0 = performance.now();
    const outcome = await optimizerStep(ctx, [p], lr);
    // The update is queued after the read-back of the loss; reading a variable waits for it.
    await variables[variables.length - 1].data();
    const ms = performance.now() - t0;
    if (outcome.skipped) skippedSteps.push(outcome.skipped);
    return { ms, loss: outcome.metrics.loss };
  };
  try {
    const losses: number[] = [];
    if (opts.warmup === 'full') losses.push((await step(pair)).loss);
    else if (shortPair) await step(shortPair);
    let memoryAfterFirstStep = opts.warmup === 'none' ? null : memory();
    const runsMs: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const r = await step(pair);
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
      skippedSteps,
      trainableParameters: variables.reduce((n, v) => n + v.size, 0),
      memoryBeforeFirstStep,
      memoryAfterFirstStep: memoryAfterFirstStep ?? memory(),
      memoryAfterLastStep: memory(),
    };
  } finally {
    adam.dispose();
  }
}
