/**
 * Whether a model fits a TF.js backend, decided from its config.json alone, before any weight is downloaded or read:
 * its float32 weight bytes (every parameter counted from the config's shapes), an estimate of the working set of a
 * run, and what each backend can hold.
 *
 * Limits, as far as they can be known:
 *  - wasm: WebAssembly memory is 32-bit; tfjs-backend-wasm 4.22 grows its heap up to 4 GiB − 64 KiB (emscripten's
 *    getHeapMax), and every tensor lives in that heap.
 *  - webgpu: the device's largest buffer (min of maxBufferSize and maxStorageBufferBindingSize) bounds one tensor;
 *    how much the GPU holds in all is not exposed.
 *  - cpu, webgl (and any other): none that the page or Node can read (the machine's memory; WebGL's texture limits
 *    are not bytes).
 *
 * The working-set estimate (bytes, float32), per use:
 *  - every backend: the weights, and the activations of the run at {@link REFERENCE_RUN} — for training the decoder
 *    keeps each layer's intermediates for the backward pass, L · N · (24·D + 8·I + 4·H·T) · 4 (N = sequences · T
 *    tokens, counted from the layer's ops: norms, projections, rotary, attention scores and softmax, the MLP), and the
 *    logits at the response positions three times (logits, their exp, the one-hot pick); for inference one layer's
 *    worth at a time (tf.tidy frees the others); with an image, one SigLIP layer over the patches;
 *  - wasm, training: fitted to the WebAssembly heap of LoRA steps (optimizerStep, DPO) on the SmolVLM-256M shape,
 *    a fresh process per length (scripts/wasm-step-memory.ts; the heap only grows, and by at most 96 MiB more than
 *    was asked, so it bounds the need from above). After one step: 1.83, 2.33, 3.05, 3.81, 4.21 GB at 2 sequences
 *    of 9, 33, 65, 97, 113 tokens, 129 and 200 aborted (out of the 4 GiB); with Identity sharing its input's data
 *    (src/tf/wasmKernels.ts) that is the weights, 0.63 GB, and 2.9 times the activations above. Over the next steps
 *    the heap grows by about 0.4 GB more, then stays (no tensor is left behind: freed blocks are not reused for
 *    every later request): 2.76 GB at 33 tokens from the third of 7 steps on; after 5 steps 3.48 GB at 65, 3.96 GB
 *    at 95, 3.91 GB at 88 with a one-token prompt (all response); 4 steps at 111 aborted. A training run takes many
 *    steps, so the estimate is fitted to those: the weights, {@link WASM_TRAINING_ACTIVATION_COPIES} times the
 *    activations, and a constant of twice the language model's matrices (1.08 GB; measured 1.05), which puts it
 *    above every heap measured. (Before the sharing: 2.4, 3.1, 4.0 GB after one step at 9, 33, 65 tokens.)
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { familyOf } from '../families';
import { expectedShapes, parameterCount } from './weights';

export const MEMORY_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type MemoryBackend = (typeof MEMORY_BACKENDS)[number];

/** What the model is loaded for: a LoRA training step needs more than a forward pass. */
export type MemoryUse = 'training' | 'inference';

/** tfjs-backend-wasm 4.22's largest heap (emscripten's getHeapMax: 4 GiB less one 64 KiB page). */
export const WASM32_HEAP_BYTES = 4294901760;

const FLOAT32 = 4;

/** wasm training: how many times the activations are held (see the header); fitted on the 256M shape (2.9, 2.92). */
export const WASM_TRAINING_ACTIVATION_COPIES = 3;

/** The run a load must leave room for: the shortest worth doing, a chosen/rejected pair of 64 tokens each. */
export interface RunShape {
  /** Sequences in one forward (a pair: 2). */
  sequences: number;
  /** Tokens of each sequence (prompt and response). */
  tokens: number;
  /** Of those, the response tokens (the LM head runs only there). */
  responseTokens: number;
  /** Whether the prompt carries an image (multimodal models run the vision tower once). */
  image: boolean;
}

export const REFERENCE_RUN: RunShape = { sequences: 2, tokens: 64, responseTokens: 32, image: false };

export interface ModelBytes {
  parameters: number;
  /** float32, as the TF.js engine holds them (BF16 and F16 checkpoints decode to float32). */
  weightBytes: number;
  /** The language model's matrices (its linears and the LM head), float32. */
  textMatrixBytes: number;
  largestTensor: { name: string; bytes: number };
}

function isTextMatrix(name: string, shape: number[], textPrefix: string, tied: boolean): boolean {
  if (shape.length !== 2) return false;
  if (name === 'lm_head.weight') return true;
  if (!name.startsWith(textPrefix)) return false;
  // The embedding is gathered, not multiplied, unless it doubles as the LM head.
  return !name.endsWith('embed_tokens.weight') || tied;
}

/** The model's parameters and bytes, counted from its config (the same shapes the weights are checked against). */
export function modelBytes(config: ModelConfig): ModelBytes {
  const { textPrefix } = familyOf(config);
  let textMatrix = 0;
  let largestTensor = { name: '', bytes: 0 };
  for (const [name, shape] of expectedShapes(config)) {
    const bytes = shape.reduce((a, b) => a * b, 1) * FLOAT32;
    if (isTextMatrix(name, shape, textPrefix, config.text.tieWordEmbeddings)) textMatrix += bytes;
    if (bytes > largestTensor.bytes) largestTensor = { name, bytes };
  }
  const parameters = parameterCount(config);
  return { parameters, weightBytes: parameters * FLOAT32, textMatrixBytes: textMatrix, largestTensor };
}

export interface WorkingSet {
  backend: string;
  use: MemoryUse;
  run: RunShape;
  weightBytes: number;
  /**
   * wasm training: what the heap holds beyond the weights and the activations over a run of steps, the same at every
   * length (see the header): fitted as twice the language model's matrices.
   */
  reserveBytes: number;
  activationBytes: number;
  totalBytes: number;
}

function activationBytes(config: ModelConfig, use: MemoryUse, run: RunShape): number {
  const { hiddenSize: d, intermediateSize: i, numHeads: h, numLayers, vocabSize } = config.text;
  const tokens = run.sequences * run.tokens;
  const perLayer = tokens * (24 * d + 8 * i + 4 * h * run.tokens) * FLOAT32;
  const logits = 3 * run.sequences * run.responseTokens * vocabSize * FLOAT32;
  let vision = 0;
  if (run.image && config.modelType === 'idefics3') {
    const v = config.vision;
    const patches = (v.imageSize / v.patchSize) ** 2;
    vision = (patches * (10 * v.hiddenSize + 4 * v.intermediateSize) + 3 * v.numHeads * patches * patches) * FLOAT32;
  }
  return (use === 'training' ? numLayers : 1) * perLayer + logits + vision;
}

/** The estimated peak bytes of one run of `config` on `backend`. */
export function workingSet(config: ModelConfig, backend: string, use: MemoryUse, run: RunShape = REFERENCE_RUN): WorkingSet {
  const bytes = modelBytes(config);
  const wasmTraining = backend === 'wasm' && use === 'training';
  const reserveBytes = wasmTraining ? 2 * bytes.textMatrixBytes : 0;
  const activations = activationBytes(config, use, run) * (wasmTraining ? WASM_TRAINING_ACTIVATION_COPIES : 1);
  return {
    backend,
    use,
    run,
    weightBytes: bytes.weightBytes,
    reserveBytes,
    activationBytes: activations,
    totalBytes: bytes.weightBytes + reserveBytes + activations,
  };
}

export interface BackendLimit {
  /** A TF.js backend name: one of {@link MEMORY_BACKENDS}, or another whose limits are not known here. */
  backend: string;
  /** Everything the backend can hold at once; null where no limit can be known. */
  totalBytes: number | null;
  /** The largest single tensor; null where no limit can be known. */
  bufferBytes: number | null;
  /** Where the figures come from, in words. */
  source: string;
}

export interface DeviceBufferLimits {
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
}

/** What `backend` can hold; for webgpu, `device` is the GPU device's limits (unknown when it is not running). */
export function backendLimit(backend: string, device?: DeviceBufferLimits): BackendLimit {
  if (backend === 'wasm') {
    return { backend, totalBytes: WASM32_HEAP_BYTES, bufferBytes: null, source: 'WebAssembly memory is 32-bit' };
  }
  if (backend === 'webgpu') {
    const sizes = [device?.maxBufferSize, device?.maxStorageBufferBindingSize].filter((x): x is number => typeof x === 'number');
    return sizes.length
      ? { backend, totalBytes: null, bufferBytes: Math.min(...sizes), source: "this WebGPU device's largest buffer" }
      : { backend, totalBytes: null, bufferBytes: null, source: "the WebGPU device's limits are not known here" };
  }
  return { backend, totalBytes: null, bufferBytes: null, source: 'no limit that can be read (the machine memory)' };
}

export interface MemoryFit {
  fits: boolean;
  bytes: ModelBytes;
  workingSet: WorkingSet;
  limit: BackendLimit;
  /** Why it does not fit, in words; null when it fits. */
  reason: string | null;
}

export function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

function formatParameters(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : `${Math.round(n / 1e6)} M`;
}

/** Whether `config` fits `limit`'s backend for `use` (a run of {@link REFERENCE_RUN}). */
export function memoryFit(config: ModelConfig, use: MemoryUse, limit: BackendLimit): MemoryFit {
  const bytes = modelBytes(config);
  const ws = workingSet(config, limit.backend, use, REFERENCE_RUN);
  let reason: string | null = null;
  if (limit.totalBytes !== null && ws.totalBytes > limit.totalBytes) {
    const what = use === 'training' ? 'a LoRA training step' : 'a forward pass';
    reason =
      `${what} on ${limit.backend} needs about ${formatBytes(ws.totalBytes)} (${formatBytes(bytes.weightBytes)} of float32 weights` +
      `${ws.reserveBytes ? `, ${formatBytes(ws.reserveBytes)} that a training step's heap holds besides` : ''}, ${formatBytes(ws.activationBytes)} of activations` +
      ` for ${REFERENCE_RUN.sequences} sequences of ${REFERENCE_RUN.tokens} tokens), more than ${limit.backend} can hold (${limit.source}: ${formatBytes(limit.totalBytes)})`;
  } else if (limit.bufferBytes !== null && bytes.largestTensor.bytes > limit.bufferBytes) {
    reason =
      `its largest tensor, ${bytes.largestTensor.name} (${formatBytes(bytes.largestTensor.bytes)}), is larger than ${limit.source}` +
      ` (${formatBytes(limit.bufferBytes)})`;
  }
  return { fits: reason === null, bytes, workingSet: ws, limit, reason };
}

/**
 * The longest sequences (prompt and response, text only) of a chosen/rejected pair whose LoRA step fits `limit`'s
 * backend by the estimate: 0 when none does, null when the backend names no total limit. `responseTokens` says how
 * many of a sequence's tokens are response (the LM head runs there): by default half of them.
 */
export function longestTrainingPair(
  config: ModelConfig,
  limit: BackendLimit,
  responseTokens: (tokens: number) => number = (tokens) => Math.ceil(tokens / 2),
): number | null {
  if (limit.totalBytes === null) return null;
  const fits = (tokens: number) =>
    workingSet(config, limit.backend, 'training', { sequences: 2, tokens, responseTokens: responseTokens(tokens), image: false }).totalBytes <= limit.totalBytes!;
  let lo = 0;
  let hi = config.text.maxPositionEmbeddings;
  if (fits(hi)) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** How to pick a backend, named the way the user switches to it. */
const HOW_TO_USE: Record<MemoryBackend, string> = {
  webgpu: 'webgpu (a GPU; in Node `--backend webgpu`)',
  webgl: 'webgl (a GPU, in the browser)',
  wasm: 'wasm (in Node `--backend wasm`)',
  cpu: 'cpu (no memory limit of its own, but slow; in Node `--backend cpu`)',
};

/** Thrown by {@link checkModelFits}: the model does not fit the active backend. */
export class ModelTooLargeError extends Error {
  constructor(
    message: string,
    readonly fit: MemoryFit,
    readonly alternatives: MemoryBackend[],
  ) {
    super(message);
    this.name = 'ModelTooLargeError';
  }
}

/**
 * Throws {@link ModelTooLargeError} when `config` does not fit `limit`'s backend for `use`, naming the model's size,
 * the backend's limit and the backends it may fit instead (those with no limit it exceeds, as far as can be known
 * without starting them).
 */
export function checkModelFits(label: string, config: ModelConfig, use: MemoryUse, limit: BackendLimit): void {
  const fit = memoryFit(config, use, limit);
  if (fit.fits) return;
  const alternatives = MEMORY_BACKENDS.filter((b) => b !== limit.backend && b !== 'webgl' && memoryFit(config, use, backendLimit(b)).fits);
  const instead = alternatives.length ? `Use ${alternatives.map((b) => HOW_TO_USE[b]).join(', or ')} instead.` : 'No TF.js backend here can hold it.';
  throw new ModelTooLargeError(
    `${label}: the model (${formatParameters(fit.bytes.parameters)} parameters, ${formatBytes(fit.bytes.weightBytes)} as float32) does not fit the ${limit.backend} backend: ${fit.reason}. ${instead}`,
    fit,
    alternatives,
  );
}

/** The active TF.js backend's limit (for webgpu, read from its device). */
export function activeBackendLimit(): BackendLimit {
  const device = (tf.backend() as { device?: { limits?: DeviceBufferLimits } }).device?.limits;
  return backendLimit(tf.getBackend(), device);
}
