/**
 * The cross-origin isolation probe (e2e/isolation.spec.ts): whether the page is isolated, and the threads TF.js'
 * WASM backend and ONNX Runtime's WebAssembly were given.
 */
import * as tf from '@tensorflow/tfjs';
import { env } from '@huggingface/transformers';
import { wasmInfo } from '../tf/backend';
import type { IsolationInfo } from './protocol';

export async function isolation(): Promise<IsolationInfo> {
  const onnx = env.backends.onnx as { wasm?: { numThreads?: number } };
  return {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    hardwareConcurrency: navigator.hardwareConcurrency,
    // The engine's registry holds the backends that have started (tf.findBackend would start it).
    tfjsWasm: 'wasm' in tf.engine().registry ? await wasmInfo() : null,
    onnxThreads: onnx.wasm?.numThreads ?? null,
  };
}
