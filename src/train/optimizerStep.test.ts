/**
 * What one optimizer step computes, and how often: the weights of its batch once (the float64 pass that gives the
 * logged metrics reuses the weights the step used), and metrics equal to the float64 metrics of its batch under
 * the adapters the step started from. Tiny SmolLM2, text pairs.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { fixtureSource } from '../../scripts/lib/nodeModelSource';
import * as weights from '../aspo/weights';
import type { PreferencePair } from '../data/pairs';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import { resolveSettings, type TrainSettingsInput } from './settings';
import { loraOptions, Trainer } from './trainer';
import { sandboxTextPairs } from '../../tests/setup/sandboxClip';
import { useTestBackend } from '../../tests/setup/testBackend';

vi.mock('../aspo/weights', async (importOriginal) => {
  const original = await importOriginal<typeof import('../aspo/weights')>();
  return { ...original, adaptiveWeights: vi.fn(original.adaptiveWeights), combineWeights: vi.fn(original.combineWeights) };
});

let engine: TfjsEngine;
const BASE: TrainSettingsInput = { lr: 1e-2, lora: { r: 4, alpha: 8 }, seed: 3, batchSize: 2 };

beforeAll(async () => {
  await useTestBackend();
  engine = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: loraOptions(resolveSettings(BASE)) });
  text = await sandboxTextPairs(2);
});

let text: PreferencePair[];

/** Two of the sandbox's multi-sentence pairs without their images, their S_i stored from the sandbox CLIP. */
function textPairs(): PreferencePair[] {
  return text.map((p) => ({ ...p }));
}

/** The settings, and the weight sets `granularityUnits` forms for a batch of two pairs under them. */
const VARIANTS: { settings: TrainSettingsInput; weightSets: number }[] = [
  { settings: {}, weightSets: 2 }, // sentence weights from the policy: in the graph for the loss, in float64 for the log
  { settings: { perplexitySource: 'reference' }, weightSets: 2 },
  { settings: { granularity: 'token' }, weightSets: 2 },
  { settings: { granularity: 'response' }, weightSets: 1 }, // one normalisation across the batch
  { settings: { objective: 'dpo' }, weightSets: 2 },
];

describe('optimizerStep (tiny SmolLM2)', () => {
  it('forms the weights of its batch once per step', async () => {
    const adaptive = vi.mocked(weights.adaptiveWeights);
    const combine = vi.mocked(weights.combineWeights);
    for (const { settings, weightSets } of VARIANTS) {
      const trainer = new Trainer({ engine, pairs: textPairs(), settings: { ...BASE, ...settings, steps: 2 } });
      await trainer.prepare();
      for (let i = 0; i < 2; i++) {
        adaptive.mockClear();
        combine.mockClear();
        const report = await trainer.step();
        expect(report.skipped).toBeUndefined();
        // Sentence and response units weigh with adaptiveWeights, token units with combineWeights.
        const calls = settings.granularity === 'token' ? combine.mock.calls.length : adaptive.mock.calls.length;
        expect(calls, `${JSON.stringify(settings)}, step ${i + 1}`).toBe(weightSets);
      }
      trainer.dispose();
    }
  });

  it('logs the float64 metrics of its batch under the adapters it started from', async () => {
    for (const { settings } of [...VARIANTS, { settings: { normalization: 'reward-ratio' } as TrainSettingsInput }]) {
      const pairs = textPairs();
      const trainer = new Trainer({ engine, pairs, settings: { ...BASE, ...settings, steps: 2 } });
      await trainer.prepare();
      await trainer.step(); // off the reference, so that rewards and policy perplexities are not all alike
      const expected = (await trainer.evaluate(pairs)).metrics;
      const report = await trainer.step();
      expect(report.pairs.slice().sort()).toEqual([0, 1]);
      expect(Math.abs(expected['rewards/margins'])).toBeGreaterThan(1e-4);
      for (const [key, value] of Object.entries(expected)) {
        expect(report.metrics[key as keyof typeof expected], `${JSON.stringify(settings)}: ${key}`).toBeCloseTo(value, 10);
      }
      trainer.dispose();
    }
  });
});
