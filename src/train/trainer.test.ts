/**
 * ASPO on the tiny SmolVLM and the bundled sandbox world (S_i from the sandbox CLIP): 30 steps lower the loss and
 * raise held-out reward accuracy. The tiny model is random, so the learning rate is far above a real model's (1e-2).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureSource } from '../../scripts/lib/nodeModelSource';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import type { Idefics3Model } from '../models/tfjs/idefics3';
import { sandboxPairs } from '../sandbox/preferences';
import { resolveSettings } from './settings';
import { sandboxImageLoader } from './pairPreparation';
import { loraOptions, Trainer } from './trainer';
import { sandboxClipSimilarities } from '../../tests/setup/sandboxClip';
import { useTestBackend } from '../../tests/setup/testBackend';

const settings = resolveSettings({ objective: 'aspo', lr: 1e-2, steps: 30, batchSize: 1, lora: { r: 8, alpha: 16 }, seed: 1 });
let engine: TfjsEngine;

beforeAll(async () => {
  await useTestBackend();
  engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { lora: loraOptions(settings) });
});

describe('Trainer (tiny SmolVLM, sandbox world)', () => {
  it('the response log-probs training uses equal the log-softmax of a full forward, with and without adapters', async () => {
    const pair = sandboxPairs().train[4];
    const image = await sandboxImageLoader(pair.image!, pair);
    const encoded = await engine.encodePrompt(pair.prompt, image);
    const batch = [engine.encodeResponse(encoded, pair.prompt, pair.chosen), engine.encodeResponse(encoded, pair.prompt, pair.rejected)];
    const adapter = engine.model.lora.get(engine.model.lora.names()[0])!;
    adapter.B.assign(tf.fill(adapter.B.shape, 0.05)); // adapters on ≠ off
    for (const lora of [true, false]) {
      const fast = engine.responseLogprobs(encoded, batch.map((b) => b.tokens), lora);
      const got = await fast.data();
      const width = fast.shape[1];
      fast.dispose();
      for (let row = 0; row < batch.length; row++) {
        const b = batch[row];
        const imageFeatures = encoded.imageFeatures;
        const logits = (engine.model as Idefics3Model).forward({ inputIds: [b.inputIds], imageFeatures, lora });
        const values = (await logits.data()) as Float32Array;
        const vocab = logits.shape[2];
        logits.dispose();
        b.tokens.ids.forEach((id, k) => {
          const at = values.subarray((b.responseStart + k - 1) * vocab, (b.responseStart + k) * vocab);
          const max = Math.max(...at);
          const lse = max + Math.log(at.reduce((s, v) => s + Math.exp(v - max), 0));
          expect(Math.abs(got[row * width + k] - (at[id] - lse))).toBeLessThanOrEqual(1e-4);
        });
      }
    }
  });

  it('30 ASPO steps lower the loss and raise held-out reward accuracy', async () => {
    const { train, heldOut } = sandboxPairs();
    const trainer = new Trainer({ engine, pairs: train, settings, similarity: sandboxClipSimilarities });
    await trainer.prepare();
    const before = await trainer.evaluate(heldOut);
    // Policy = reference before training: every reward is 0, the loss is log 2, no pair is ranked right.
    expect(before.metrics.loss).toBeCloseTo(Math.log(2), 6);
    expect(before.metrics['rewards/accuracies']).toBe(0);
    const reports = [];
    while (!trainer.done) reports.push(await trainer.step());
    expect(reports).toHaveLength(30);
    expect(reports.every((r) => !r.skipped && Number.isFinite(r.metrics.loss))).toBe(true);
    expect(reports[0].metrics.loss).toBeCloseTo(Math.log(2), 5);
    // The sentences' weights differ (a two-sentence pair whose S_i and PPL_i rank it oppositely can weigh both 0.5).
    expect(Math.max(...reports.map((r) => r.metrics['aspo/weight_std']))).toBeGreaterThan(0);
    const trainAfter = await trainer.evaluate(train);
    const after = await trainer.evaluate(heldOut);
    expect(trainAfter.metrics.loss).toBeLessThan(Math.log(2) - 0.05);
    expect(trainAfter.metrics['rewards/accuracies']).toBeGreaterThanOrEqual(0.75);
    expect(after.metrics.loss).toBeLessThan(Math.log(2) - 0.02);
    expect(after.metrics['rewards/accuracies']).toBeGreaterThanOrEqual(0.625);
    expect(after.metrics['rewards/margins']).toBeGreaterThan(0);
    const msPerStep = reports.reduce((s, r) => s + r.ms, 0) / reports.length;
    console.log(
      `sandbox ASPO: train loss ${Math.log(2).toFixed(4)} → ${trainAfter.metrics.loss.toFixed(4)}, held-out loss ${before.metrics.loss.toFixed(4)} → ${after.metrics.loss.toFixed(4)}, ` +
        `held-out accuracy ${before.metrics['rewards/accuracies']} → ${after.metrics['rewards/accuracies']}, ${msPerStep.toFixed(0)} ms/step (CPU)`,
    );
    trainer.dispose();
  });
});
