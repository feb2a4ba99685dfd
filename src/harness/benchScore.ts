/**
 * The scoring benchmark's page side (scripts/bench-score.ts): the tiny CLIP's sentence scoring, batched or one
 * sentence per call, and the ONNX and TF.js engines' `logprobs` of the same request.
 */
import * as tf from '@tensorflow/tfjs';
import type { RawImage } from '@huggingface/transformers';
import { loadClipScorer, type ClipScorer } from '../models/clip';
import { loadOnnxEngine, type OnnxEngine } from '../models/onnx/engine';
import { urlPrefixSource } from '../models/sources';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import { memory, rawImage } from './page';
import type { ClipBenchLoadArgs, ClipBenchLoadResult, ClipBenchScoreResult, EngineLogprobsResult, EnginesBenchLoadArgs, EnginesBenchLoadResult, MemoryInfo } from './protocol';

/**
 * Scores `sentences` against `image`, all in one call (batched) or one call per sentence, timed, with the text-tower
 * runs it made. Node (scripts/bench-score.ts) times its own scorer with it too.
 */
export async function timedSimilarity(scorer: ClipScorer, image: RawImage, sentences: string[], oneAtATime: boolean): Promise<ClipBenchScoreResult> {
  const before = scorer.calls.text;
  const t0 = performance.now();
  if (oneAtATime) for (const sentence of sentences) await scorer.similarity(image, [sentence]);
  else await scorer.similarity(image, sentences);
  return { ms: performance.now() - t0, textRuns: scorer.calls.text - before };
}

let clipBench: { scorer: ClipScorer; image: RawImage } | null = null;

export function benchClipUnload(): void {
  clipBench?.scorer.dispose();
  clipBench = null;
}

export async function benchClipLoad(args: ClipBenchLoadArgs): Promise<ClipBenchLoadResult> {
  benchClipUnload();
  const t0 = performance.now();
  const scorer = await loadClipScorer(urlPrefixSource(args.modelUrl), { device: args.device });
  clipBench = { scorer, image: rawImage(args.imagePixels) };
  return { device: scorer.device, fallbackReason: scorer.fallbackReason, contextLength: scorer.contextLength, loadMs: performance.now() - t0 };
}

export function benchClipScore(args: { sentences: string[]; oneAtATime: boolean }): Promise<ClipBenchScoreResult> {
  if (!clipBench) throw new Error('no CLIP loaded: call benchClipLoad first');
  return timedSimilarity(clipBench.scorer, clipBench.image, args.sentences, args.oneAtATime);
}

let enginesBench: { onnx: OnnxEngine; tfjs: TfjsEngine; image: RawImage } | null = null;

export function benchEnginesUnload(): MemoryInfo {
  enginesBench?.onnx.dispose();
  enginesBench?.tfjs.dispose();
  enginesBench = null;
  return memory();
}

export async function benchEnginesLoad(args: EnginesBenchLoadArgs): Promise<EnginesBenchLoadResult> {
  benchEnginesUnload();
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

export async function benchEngineLogprobs(args: { engine: 'onnx' | 'tfjs'; prompt: string; responses: string[]; withImage: boolean }): Promise<EngineLogprobsResult> {
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
