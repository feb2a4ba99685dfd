import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { useTestBackend } from '../../tests/setup/testBackend';
import { aspoObjectiveTf } from './objective.tf';
import { adaptiveWeights, sentencePerplexity } from './weights';
import { sentenceWeightsTf } from './weights.tf';

beforeAll(useTestBackend);

/** Tokens spread over K sentences (every sentence gets at least one unless `emptyLast`). */
const caseArb = fc
  .record({
    k: fc.integer({ min: 1, max: 5 }),
    extra: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 8 }),
    alpha: fc.double({ min: 0, max: 1, noNaN: true }),
    seed: fc.integer({ min: 0, max: 1e6 }),
  })
  .map(({ k, extra, alpha, seed }) => {
    const tokenSentence = [...Array.from({ length: k }, (_, i) => i), ...extra.map((e) => e % k)].sort((a, b) => a - b);
    let x = seed;
    const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
    return {
      tokenSentence,
      logps: tokenSentence.map(() => -6 * rand()),
      similarity: Array.from({ length: k }, () => 0.1 + 0.3 * rand()),
      alpha,
    };
  });

describe('sentenceWeightsTf', () => {
  it('equals adaptiveWeights on sentencePerplexity (float64) to 1e-5', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ tokenSentence, logps, similarity, alpha }) => {
        const expected = adaptiveWeights(similarity, sentencePerplexity(logps, tokenSentence, similarity.length), alpha).weight;
        const t = tf.tensor1d(logps);
        const w = sentenceWeightsTf(similarity, t, tokenSentence, alpha);
        const got = await w.data();
        tf.dispose([t, w]);
        expected.forEach((e, i) => expect(Math.abs(got[i] - e)).toBeLessThanOrEqual(1e-5));
      }),
      { numRuns: 40 },
    );
  });

  it('hand case: two sentences, PPL e^1 and e^2, α = 0.5', async () => {
    // PPL = [e, e²] → P̂ = [1, 0]; S = [0.2, 0.4] → Ŝ = [0, 1]; w = 0.5·Ŝ + 0.5·P̂ = [0.5, 0.5]; a sentence
    // without tokens has PPL 1, the minimum: then P̂ = [(e²−e)/(e²−1), 0, 1].
    const t = tf.tensor1d([-1, -1, -2]);
    const w = sentenceWeightsTf([0.2, 0.4], t, [0, 0, 1], 0.5);
    const w3 = sentenceWeightsTf([0.2, 0.4, 0.3], t, [0, 0, 1], 0);
    const [a, b] = [await w.data(), await w3.data()];
    tf.dispose([t, w, w3]);
    expect(a[0]).toBeCloseTo(0.5, 6);
    expect(a[1]).toBeCloseTo(0.5, 6);
    const e = Math.E;
    expect(b[0]).toBeCloseTo((e * e - e) / (e * e - 1), 5);
    expect(b[1]).toBeCloseTo(0, 6);
    expect(b[2]).toBeCloseTo(1, 6);
  });

  it('equal perplexities give P̂ = 0 exactly (no division by a zero range), so w = α·Ŝ', async () => {
    const t = tf.tensor1d([-1.5, -0.5, -1, -1]);
    const w = sentenceWeightsTf([0.2, 0.4, 0.3], t, [0, 0, 1, 2], 0.25);
    const got = Array.from(await w.data());
    tf.dispose([t, w]);
    expect(got).toEqual([0, 0.25, 0.125]);
  });

  it('carries no gradient: the ASPO gradient with in-graph weights is λβ(1 + w_i) per chosen token', async () => {
    const logps = [-1.2, -0.4, -2.5, -0.9, -3.1];
    const ref = [-1.0, -0.9, -2.0, -1.5, -2.0];
    const tokenSentence = [0, 0, 1, 1, 2];
    const similarity = [0.3, 0.1, 0.25];
    const beta = 0.1;
    const rejected = tf.tensor1d([-2, -1]);
    const expectedW = adaptiveWeights(similarity, sentencePerplexity(logps, tokenSentence, 3), 0.5).weight;
    const lambda = 3 / expectedW.reduce((s, w) => s + 1 + w, 0);
    const x = tf.tensor1d(logps);
    const g = tf.grad((chosen: tf.Tensor) => {
      const weights = sentenceWeightsTf(similarity, chosen as tf.Tensor1D, tokenSentence, 0.5);
      return aspoObjectiveTf({
        chosenPolicyLogps: chosen as tf.Tensor1D,
        rejectedPolicyLogps: rejected,
        chosenRefLogps: ref,
        rejectedRefLogps: [-2, -1],
        tokenUnit: tokenSentence,
        weights,
        beta,
        normalization: 'mean',
      }).margin;
    })(x);
    const got = await g.data();
    tf.dispose([x, g, rejected]);
    tokenSentence.forEach((s, t) => expect(got[t]).toBeCloseTo(lambda * beta * (1 + expectedW[s]), 5));
  });
});
