/**
 * The same numbers on every backend: per-token log-probs of the tiny SmolVLM (with an image, adapters on) and one
 * LoRA step of the trainer (its loss and the adapters it leaves) on the pure-JS CPU backend and on each backend a
 * run may use instead — WASM under Node; WebGPU and WASM in Chromium. Each backend gets its own engine: tensors
 * live on the backend that made them, and the engine caches image features.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { PreferencePair } from '../data/pairs';
import { loadClipScorer } from '../models/clip';
import { Prng } from '../models/prng';
import { urlPrefixSource, type ModelSource } from '../models/sources';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import { maxAbsDiff } from '../models/tfjs/fixtures.testutil';
import { sandboxPairs } from '../sandbox/preferences';
import { squareImage } from '../../tests/setup/images';
import { switchBackend, type TestBackend } from '../../tests/setup/testBackend';
import { clipSimilarities, withSimilarities } from './clipSimilarity';
import { sandboxImageLoader } from './pairPreparation';
import { resolveSettings } from './settings';
import { loraOptions, Trainer } from './trainer';

const TOL = 1e-4;
const IN_NODE = typeof window === 'undefined';
const OTHERS: TestBackend[] = IN_NODE ? ['wasm'] : ['webgpu', 'wasm'];

const PROMPT = 'What is in the picture?';
const RESPONSES = ['A red square. It sits on blue ground, 3 cm wide.', 'A green circle!'];
// Adam's first step moves each weight by lr·g/(|g| + 1e-8): about lr (30 TOL) wherever the gradient is clear of
// 1e-8, but where it is not, the last bits of g, which differ between backends, move the update by ~lr·Δg/1e-8.
// At lr 1e-2 one weight of 8192 differed by 4.7e-5 between wasm and cpu, at 3e-3 by 1.4e-5.
const settings = resolveSettings({ objective: 'aspo', lr: 3e-3, steps: 1, batchSize: 2, lora: { r: 4, alpha: 8 }, seed: 5 });

async function tinySmolvlm(): Promise<ModelSource> {
  if (!IN_NODE) return urlPrefixSource(`${location.origin}/tests/fixtures/models/tiny-smolvlm/`);
  // Imported here, not at the top: it reads node:fs, which the browser project cannot load.
  const { fixtureSource } = await import('../../scripts/lib/nodeModelSource');
  return fixtureSource('tiny-smolvlm');
}

async function sandboxClip(): Promise<ModelSource> {
  if (!IN_NODE) return urlPrefixSource(`${location.origin}/tests/fixtures/models/sandbox-clip/`);
  const { FIXTURE_MODELS, nodeFolderSource } = await import('../../scripts/lib/nodeModelSource');
  return nodeFolderSource(`${FIXTURE_MODELS}/sandbox-clip`);
}

let scored: Promise<PreferencePair[]> | undefined;
/** Two sandbox pairs with their S_i from the sandbox CLIP, scored once: every backend trains on the same numbers. */
function trainingPairs(): Promise<PreferencePair[]> {
  scored ??= (async () => {
    const clip = await loadClipScorer(await sandboxClip(), { device: IN_NODE ? 'cpu' : 'wasm' });
    try {
      return await withSimilarities(sandboxPairs().train.slice(0, 2), clipSimilarities(async () => clip, sandboxImageLoader));
    } finally {
      clip.dispose();
    }
  })();
  return scored;
}

/** Every adapter's B filled from one seeded stream: the adapters then change the numbers (B = 0 would not). */
function setNonzeroB(engine: TfjsEngine): void {
  const prng = new Prng(11);
  for (const name of engine.model.lora.names()) {
    const { B } = engine.model.lora.get(name)!;
    const values = Float32Array.from({ length: B.size }, () => prng.uniform(-0.2, 0.2));
    tf.tidy(() => B.assign(tf.tensor2d(values, B.shape)));
  }
}

async function adapterValues(engine: TfjsEngine): Promise<Float32Array> {
  const parts = await Promise.all(engine.model.lora.variables().map(async (v) => (await v.data()) as Float32Array));
  return Float32Array.from(parts.flatMap((p) => [...p]));
}

interface Run {
  logprobs: Float32Array;
  loss: number;
  before: Float32Array;
  after: Float32Array;
}

/** Log-probs and one trainer step on `backend`, from a freshly loaded engine. */
async function runOn(backend: TestBackend): Promise<Run> {
  await switchBackend(backend);
  const engine = await loadTfjsEngine(await tinySmolvlm(), { lora: loraOptions(settings) });
  try {
    setNonzeroB(engine);
    const encoded = await engine.encodePrompt(PROMPT, squareImage());
    const tokens = RESPONSES.map((r) => engine.encodeResponse(encoded, PROMPT, r).tokens);
    const lp = engine.responseLogprobs(encoded, tokens, true);
    const logprobs = (await lp.data()) as Float32Array;
    lp.dispose();

    const trainer = new Trainer({ engine, pairs: await trainingPairs(), settings });
    // The trainer starts from A = Kaiming(seed), B = 0, where A's gradient is 0; a nonzero B moves both.
    setNonzeroB(engine);
    await trainer.prepare();
    const before = await adapterValues(engine);
    const report = await trainer.step();
    expect(report.skipped).toBeUndefined();
    const after = await adapterValues(engine);
    trainer.dispose();
    return { logprobs, loss: report.metrics.loss, before, after };
  } finally {
    engine.dispose();
  }
}

describe('TF.js backends agree', () => {
  it(`log-probs and a LoRA step on ${OTHERS.join(', ')} equal the CPU backend's within ${TOL}`, async () => {
    const cpu = await runOn('cpu');
    expect(cpu.logprobs.every(Number.isFinite)).toBe(true);
    expect(Number.isFinite(cpu.loss)).toBe(true);
    // The agreement means something only if the step moved the adapters by far more than TOL: half of them at least.
    const moved = cpu.after.map((v, i) => Math.abs(v - cpu.before[i])).sort();
    expect(moved[moved.length >> 1]).toBeGreaterThan(20 * TOL);
    for (const backend of OTHERS) {
      const other = await runOn(backend);
      const diffs = {
        logprobs: maxAbsDiff(other.logprobs, cpu.logprobs),
        loss: Math.abs(other.loss - cpu.loss),
        adapters: maxAbsDiff(other.after, cpu.after),
      };
      console.log(`${backend} vs cpu, largest differences: ${JSON.stringify(diffs)}`);
      expect(maxAbsDiff(other.before, cpu.before)).toBe(0);
      expect(diffs.logprobs).toBeLessThanOrEqual(TOL);
      expect(diffs.loss).toBeLessThanOrEqual(TOL);
      expect(diffs.adapters).toBeLessThanOrEqual(TOL);
    }
  });
});
