/**
 * The CPU benchmark's page side (scripts/bench-cpu.ts): the ONNX engine's log-probs on ONNX Runtime's WebAssembly,
 * with the number of threads the caller asks for. ONNX Runtime reads `env.backends.onnx.wasm.numThreads` once, when
 * its WebAssembly starts (the first session), so each setting needs a fresh page.
 */
import { env } from '@huggingface/transformers';
import { loadOnnxEngine } from '../models/onnx/engine';
import { urlPrefixSource } from '../models/sources';
import { loadTokenizer } from '../models/transformersEnv';
import type { OnnxThreadsArgs, OnnxThreadsResult } from './protocol';

export async function benchOnnxThreads(args: OnnxThreadsArgs): Promise<OnnxThreadsResult> {
  const source = urlPrefixSource(args.modelUrl);
  // Loading the tokenizer sets transformers.js up (transformersEnv.ts), which writes its own thread count; ours is
  // written after that and before the engine creates the first session.
  await loadTokenizer(source);
  const wasm = (env.backends.onnx as { wasm?: { numThreads?: number } }).wasm;
  if (!wasm) throw new Error('this build of transformers.js has no ONNX Runtime WebAssembly backend');
  wasm.numThreads = args.numThreads;
  const t0 = performance.now();
  const engine = await loadOnnxEngine(source, { device: 'wasm' });
  const loadMs = performance.now() - t0;
  try {
    const request = { prompt: args.prompt, responses: args.responses, adapters: false };
    const time = async () => {
      const start = performance.now();
      const results = await engine.logprobs(request);
      return { ms: performance.now() - start, responseTokens: results.reduce((n, r) => n + r.tokens.length, 0) };
    };
    for (let i = 0; i < args.warmupRuns; i++) await time();
    const runs = [];
    for (let i = 0; i < args.runs; i++) runs.push(await time());
    return {
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      hardwareConcurrency: navigator.hardwareConcurrency,
      numThreadsAsked: args.numThreads,
      // ONNX Runtime writes 1 back where the page cannot share memory with threads.
      numThreadsAfterLoad: wasm.numThreads ?? null,
      device: engine.device,
      loadMs,
      runsMs: runs.map((r) => r.ms),
      responseTokens: runs[0]?.responseTokens ?? 0,
    };
  } finally {
    engine.dispose();
  }
}
