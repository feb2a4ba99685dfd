/**
 * Trainer mechanics on the tiny SmolLM2 (text only, fast): ASPO = DPO for single sentences, exact resume from a
 * checkpoint, non-finite steps skipped, no tensor leak, truncation notices, seeded initialisation.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureSource } from '../../scripts/lib/nodeModelSource';
import type { PreferencePair } from '../data/pairs';
import { splitSentences } from '../aspo/sentences';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import { describeScene } from '../sandbox/captions';
import { sandboxPreferences } from '../sandbox/preferences';
import { resolveSettings, type TrainSettingsInput } from './settings';
import type { TrainerCheckpoint } from './checkpoint';
import { loraOptions, Trainer } from './trainer';
import { sandboxTextPairs } from '../../tests/setup/sandboxClip';
import { useTestBackend } from '../../tests/setup/testBackend';

let engine: TfjsEngine;
let text: PreferencePair[];
const BASE: TrainSettingsInput = { lr: 1e-2, lora: { r: 4, alpha: 8 }, seed: 3 };

beforeAll(async () => {
  await useTestBackend();
  engine = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: loraOptions(resolveSettings(BASE)) });
  text = await sandboxTextPairs(3);
});

/** The sandbox's multi-sentence pairs without their images, their S_i stored from the sandbox CLIP. */
function textPairs(n: number): PreferencePair[] {
  return text.slice(0, n).map((p) => ({ ...p }));
}

/**
 * Single-sentence text pairs (the check that ASPO equals DPO when `K = 1`): the prompt gives the scene's
 * description, the chosen answer one of its sentences, the rejected one that sentence corrupted (or an absent object).
 */
function singleSentencePairs(): PreferencePair[] {
  return sandboxPreferences()
    .train.slice(0, 8)
    .map(({ pair, scene, corruptions: [c] }) => ({
      prompt: `In one sentence, from: ${describeScene(scene)}`,
      chosen: c.replaced ?? splitSentences(pair.chosen)[0].text.trim(),
      rejected: splitSentences(pair.rejected)[c.sentence].text.trim(),
    }));
}

async function adapterValues(trainer: Trainer): Promise<Record<string, Float32Array>> {
  const state = await trainer.exportState();
  return Object.fromEntries(Object.entries(state.adapters).map(([k, v]) => [k, v.data]));
}

function maxDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  let m = 0;
  for (const k of Object.keys(a)) for (let i = 0; i < a[k].length; i++) m = Math.max(m, Math.abs(a[k][i] - b[k][i]));
  return m;
}

describe('Trainer (tiny SmolLM2)', () => {
  it('with every response one sentence, ASPO and DPO give the same losses step for step', async () => {
    const pairs = singleSentencePairs();
    const similarity = async (_p: PreferencePair, sentences: string[]) => sentences.map(() => 0.3);
    const run = async (objective: 'dpo' | 'aspo') => {
      const trainer = new Trainer({ engine, pairs, similarity, settings: { ...BASE, objective, steps: 3, batchSize: 2 } });
      await trainer.prepare();
      const losses: number[] = [];
      while (!trainer.done) losses.push((await trainer.step()).metrics.loss);
      const weights = await adapterValues(trainer);
      const lastWeight = trainer.history.at(-1)!.metrics['aspo/weight_mean'];
      trainer.dispose();
      return { losses, weights, lastWeight };
    };
    const dpo = await run('dpo');
    const aspo = await run('aspo');
    expect(aspo.losses).toEqual(dpo.losses);
    expect(aspo.lastWeight).toBe(0);
    expect(maxDiff(aspo.weights, dpo.weights)).toBe(0);
    expect(dpo.losses[0]).toBeCloseTo(Math.log(2), 6); // policy = reference at the first step
    expect(new Set(dpo.losses).size).toBeGreaterThan(1); // and it does train
  });

  it('paused, checkpointed and resumed in a new trainer, ends with the same adapters (≤ 1e-6)', async () => {
    const pairs = textPairs(3);
    // 3 pairs, 2 per step: the resumed half starts mid-epoch; warm-up and cosine both in play.
    const settings: TrainSettingsInput = { ...BASE, steps: 4, batchSize: 2, warmupSteps: 1, perplexitySource: 'policy' };
    const straight = new Trainer({ engine, pairs, settings });
    await straight.prepare();
    while (!straight.done) await straight.step();
    const expected = await adapterValues(straight);
    const expectedLosses = straight.history.map((r) => r.metrics.loss);
    straight.dispose();

    const first = new Trainer({ engine, pairs, settings });
    await first.prepare();
    for (let i = 0; i < 2; i++) await first.step();
    const checkpoint: TrainerCheckpoint = structuredClone(await first.exportState()); // as IndexedDB would store it
    first.dispose();
    expect(checkpoint.step).toBe(2);
    expect(checkpoint.dataOrder).toEqual({ epoch: 1, cursor: 1 });
    expect(checkpoint.optimizer.t).toBe(2);

    const resumed = new Trainer({ engine, pairs, settings });
    await resumed.prepare();
    await resumed.importState(checkpoint);
    expect(resumed.history).toHaveLength(2);
    while (!resumed.done) await resumed.step();
    const actual = await adapterValues(resumed);
    expect(maxDiff(actual, expected)).toBeLessThanOrEqual(1e-6);
    expect(resumed.history.map((r) => r.metrics.loss)).toEqual(expectedLosses);
    expect(resumed.history.map((r) => r.step)).toEqual([1, 2, 3, 4]);

    await expect(new Trainer({ engine, pairs: textPairs(2), settings }).importState(checkpoint)).rejects.toThrow(/other training pairs/);
    await expect(new Trainer({ engine, pairs, settings: { ...settings, beta: 0.2 } }).importState(checkpoint)).rejects.toThrow(/other settings \(beta\)/);
    resumed.dispose();
  });

  it('a forced non-finite step is skipped, reported and leaves the weights and optimizer unchanged', async () => {
    const trainer = new Trainer({ engine, pairs: textPairs(2), settings: { ...BASE, steps: 4, batchSize: 1 } });
    await trainer.prepare();
    await trainer.step();
    const before = await trainer.exportState();
    const lossStep = await trainer.step({ injectNonFinite: 'loss' });
    expect(lossStep.skipped).toMatch(/loss is not finite/);
    expect(lossStep.notices.join('\n')).toMatch(/step 2 skipped/);
    expect(Number.isNaN(lossStep.metrics.loss)).toBe(true);
    const gradStep = await trainer.step({ injectNonFinite: 'gradient' });
    expect(gradStep.skipped).toMatch(/gradient is not finite/);
    const after = await trainer.exportState();
    expect(maxDiff(Object.fromEntries(Object.entries(after.adapters).map(([k, v]) => [k, v.data])), Object.fromEntries(Object.entries(before.adapters).map(([k, v]) => [k, v.data])))).toBe(0);
    expect(after.optimizer.t).toBe(before.optimizer.t);
    expect(after.step).toBe(3);
    const normal = await trainer.step();
    expect(normal.skipped).toBeUndefined();
    expect(Number.isFinite(normal.metrics.loss)).toBe(true);
    trainer.dispose();
  });

  it('does not leak tensors across 50 steps', async () => {
    const pairs = singleSentencePairs();
    const similarity = async (_p: PreferencePair, sentences: string[]) => sentences.map((_, i) => 0.2 + 0.01 * i);
    // ASPO with policy perplexity: both the detached pass and the gradient pass run every step.
    const trainer = new Trainer({ engine, pairs, similarity, settings: { ...BASE, steps: 53, batchSize: 1, gradClipNorm: 0.01 } });
    await trainer.prepare();
    for (let i = 0; i < 3; i++) await trainer.step();
    const warm = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) await trainer.step();
    expect(tf.memory().numTensors).toBe(warm);
    expect(trainer.history.filter((r) => r.clipped).length).toBeGreaterThan(0);
    trainer.dispose();
  });

  it('truncates responses longer than maxSeqLen with a notice in the step report, and leaves out pairs whose prompt does not fit', async () => {
    const pairs = textPairs(2);
    const promptLen = (await engine.encodePrompt(pairs[0].prompt)).promptIds.length;
    const longPrompt: PreferencePair = { ...pairs[1], prompt: `${'word '.repeat(40)}?` };
    const trainer = new Trainer({ engine, pairs: [pairs[0], longPrompt], settings: { ...BASE, steps: 1, batchSize: 1, maxSeqLen: promptLen + 6 } });
    await trainer.prepare();
    expect(trainer.notices.join('\n')).toMatch(/training pair 2 left out: its prompt alone has \d+ tokens, maxSeqLen is \d+/);
    const report = await trainer.step();
    expect(report.pairs).toEqual([0]);
    const text = report.notices.join('\n');
    expect(text).toMatch(/training pair 1: chosen response truncated from \d+ to 6 tokens/);
    expect(text).toMatch(/training pair 1: rejected response truncated from \d+ to 6 tokens/);
    expect(text).toMatch(/chosen sentences cut off entirely/);
    expect(Number.isFinite(report.metrics.loss)).toBe(true);
    // Evaluation leaves the same pair out, says so when it first prepares it, and keeps the training notices apart.
    const trainingNotices = trainer.notices.slice();
    const first = await trainer.evaluate([pairs[0], longPrompt]);
    expect(first.leftOut).toEqual([1]);
    expect(first.notices.filter((n) => /left out/.test(n))).toEqual([expect.stringMatching(/^evaluation pair 2 left out: its prompt alone has \d+ tokens, maxSeqLen is \d+$/)]);
    const again = await trainer.evaluate([pairs[0], longPrompt]);
    expect(again.leftOut).toEqual([1]);
    expect(again.notices.some((n) => /left out/.test(n))).toBe(false);
    expect(again.metrics).toEqual(first.metrics);
    expect(trainer.notices).toEqual(trainingNotices);
    trainer.dispose();
  });

  it('runs every ablation setting, and takes the perplexity weights from the detached policy or from the reference', async () => {
    const pairs = textPairs(2);
    const variants: TrainSettingsInput[] = [
      { granularity: 'response' },
      { granularity: 'token' },
      { normalization: 'reward-ratio' },
      { normalization: 'none', alpha: 1 },
    ];
    for (const v of variants) {
      // reward-ratio differs from mean only once rewards are non-zero, from the second step
      const steps = v.normalization === 'reward-ratio' ? 2 : 1;
      const trainer = new Trainer({ engine, pairs, settings: { ...BASE, ...v, steps, batchSize: 2 } });
      await trainer.prepare();
      while (!trainer.done) {
        const r = await trainer.step();
        expect(r.skipped).toBeUndefined();
        for (const value of Object.values(r.metrics)) expect(Number.isFinite(value)).toBe(true);
      }
      if (v.granularity === 'response') expect(trainer.history[0].metrics['aspo/weight_mean']).toBeGreaterThan(0); // normalised across the batch, not over one unit
      trainer.dispose();
    }
    // ASPO-P (α = 0): weights from perplexity alone. From the reference they never change; from the policy they follow training.
    const weightMeans = async (perplexitySource: 'policy' | 'reference') => {
      const trainer = new Trainer({ engine, pairs: pairs.slice(0, 1), settings: { ...BASE, alpha: 0, perplexitySource, steps: 2, batchSize: 1 } });
      await trainer.prepare();
      const means = [];
      while (!trainer.done) means.push((await trainer.step()).metrics['aspo/weight_mean']);
      trainer.dispose();
      return means;
    };
    const fixed = await weightMeans('reference');
    expect(new Set(fixed).size).toBe(1);
    const adaptive = await weightMeans('policy');
    expect(adaptive[0]).toBe(fixed[0]); // policy = reference at the first step
    expect(new Set(adaptive).size).toBeGreaterThan(1);
  });

  it('starts every run from the seeded LoRA initialisation of a freshly loaded model, and checks the LoRA settings', async () => {
    const fresh = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: loraOptions(resolveSettings({ ...BASE, seed: 11 })) });
    const expected = Object.fromEntries((await fresh.model.lora.exportPeft()).entries());
    const trainer = new Trainer({ engine, pairs: textPairs(2), settings: { ...BASE, seed: 11, steps: 1 } });
    const actual = Object.fromEntries((await engine.model.lora.exportPeft()).entries());
    expect(maxDiff(Object.fromEntries(Object.entries(actual).map(([k, v]) => [k, v.data])), Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, v.data])))).toBe(0);
    trainer.dispose();
    expect(() => new Trainer({ engine: fresh, pairs: textPairs(2), settings: { ...BASE, lora: { r: 8, alpha: 8 } } })).toThrow(/do not match the settings \(r 8/);
    await expect(
      new Trainer({ engine: fresh, pairs: singleSentencePairs(), settings: { ...BASE, objective: 'aspo', alpha: 0.5 } }).prepare(),
    ).rejects.toThrow(/has no similarity\.chosen and no similarity callback/);
    fresh.dispose();
  });
});
