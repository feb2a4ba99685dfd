/**
 * The e2e probes (e2e/engine.spec.ts): a kernel on the active backend, per-token log-probs through the real
 * engines from a URL folder or through the hub code path (Cache Storage included), and clearing that cache.
 */
import * as tf from '@tensorflow/tfjs';
import { env, LogLevel } from '@huggingface/transformers';
import type { MllmEngine, ResponseLogprobs } from '../models/engine';
import { loadOnnxEngine } from '../models/onnx/engine';
import { MODEL_CACHE_NAME, hubSource, urlPrefixSource } from '../models/sources';
import { loadTfjsEngine } from '../models/tfjs/engine';
import { plain, rawImage } from './page';
import type { HubLogprobsArgs, HubLogprobsResult, LogprobsArgs, OnnxLogprobsArgs, OnnxLogprobsResult } from './protocol';

/** Σ xᵢ² · (i + 1) over x = [1, 2, 3, 4] (= 100) on the active backend, read back with `await data()`. */
export async function probe(): Promise<{ backend: string; value: number }> {
  const x = tf.tensor1d([1, 2, 3, 4]);
  const y = tf.tidy(() => x.square().mul(tf.range(1, 5)).sum());
  const value = (await y.data())[0];
  tf.dispose([x, y]);
  return { backend: tf.getBackend(), value };
}

/** Engines loaded by `logprobs`, per engine kind, backend and folder, kept for the next call. */
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

export async function logprobs(args: LogprobsArgs): Promise<ResponseLogprobs[]> {
  const engine = await engineFor(args.modelUrl, args.engine);
  const image = args.imagePixels ? rawImage(args.imagePixels) : undefined;
  return plain(await engine.logprobs({ prompt: args.prompt, responses: args.responses, image, adapters: args.adapters }));
}

/** Log-probs from an ONNX engine loaded for this call with the given device and dtype, then disposed. */
export async function onnxLogprobs(args: OnnxLogprobsArgs): Promise<OnnxLogprobsResult> {
  const level = env.logLevel;
  // transformers.js gives ONNX Runtime its level (DEBUG: verbose) globally and for each session it creates.
  const setLevel = (l: number) => {
    env.logLevel = l;
    env.backends.onnx.setLogLevel?.(l);
  };
  if (args.verboseLoad) setLevel(LogLevel.DEBUG);
  const engine = await loadOnnxEngine(urlPrefixSource(args.modelUrl), { device: args.device, dtype: args.dtype }).finally(() => setLevel(level));
  try {
    const image = args.imagePixels ? rawImage(args.imagePixels) : undefined;
    const results = await engine.logprobs({ prompt: args.prompt, responses: args.responses, image });
    return { results: plain(results), device: engine.device, fallbackReason: engine.fallbackReason };
  } finally {
    engine.dispose();
  }
}

export async function logprobsFromHub(args: HubLogprobsArgs): Promise<HubLogprobsResult> {
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

export function clearModelCache(): Promise<boolean> {
  return caches.delete(MODEL_CACHE_NAME);
}

/** Frees the engines `logprobs` kept. */
export async function unloadEngines(): Promise<void> {
  for (const [key, engine] of engines) {
    engines.delete(key);
    (await engine.catch(() => null))?.dispose();
  }
}
