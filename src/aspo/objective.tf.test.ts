import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { useTestBackend } from '../../tests/setup/testBackend';
import { aspoObjective } from './objective';
import type { Normalization } from './settings';
import { aspoObjectiveTf, type AspoTfInput, type AspoTfResult } from './objective.tf';

const NORMALIZATIONS: Normalization[] = ['mean', 'reward-ratio', 'none'];

beforeAll(useTestBackend);

interface Case {
  chosenPolicy: number[];
  chosenRef: number[];
  tokenUnit: number[];
  weights: number[];
  rejectedPolicy: number[];
  rejectedRef: number[];
  beta: number;
}

/**
 * Log-probs on a 1/256 grid in [-8, 0] are exact in float32, so TF and the
 * float64 reference differ only by float32 arithmetic, not by input rounding.
 */
const logpArb = fc.integer({ min: -2048, max: 0 }).map((k) => k / 256);
const caseArb = fc
  .record({ k: fc.integer({ min: 1, max: 5 }), nRejected: fc.integer({ min: 1, max: 12 }) })
  .chain(({ k, nRejected }) =>
    fc.integer({ min: k, max: 12 }).chain((nChosen) =>
      fc.record({
        chosenPolicy: fc.array(logpArb, { minLength: nChosen, maxLength: nChosen }),
        chosenRef: fc.array(logpArb, { minLength: nChosen, maxLength: nChosen }),
        tokenUnit: fc.array(fc.integer({ min: 0, max: k - 1 }), { minLength: nChosen, maxLength: nChosen }),
        weights: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: k, maxLength: k }),
        rejectedPolicy: fc.array(logpArb, { minLength: nRejected, maxLength: nRejected }),
        rejectedRef: fc.array(logpArb, { minLength: nRejected, maxLength: nRejected }),
        beta: fc.double({ min: 0.01, max: 1, noNaN: true }),
      }),
    ),
  );

function tfInput(c: Case, normalization: Normalization, chosen?: tf.Tensor1D, rejected?: tf.Tensor1D): AspoTfInput {
  return {
    chosenPolicyLogps: chosen ?? tf.tensor1d(c.chosenPolicy),
    rejectedPolicyLogps: rejected ?? tf.tensor1d(c.rejectedPolicy),
    chosenRefLogps: c.chosenRef,
    rejectedRefLogps: c.rejectedRef,
    tokenUnit: c.tokenUnit,
    weights: c.weights,
    beta: c.beta,
    normalization,
  };
}

function plain(c: Case, normalization: Normalization) {
  return aspoObjective({
    chosen: { policyLogps: c.chosenPolicy, refLogps: c.chosenRef, tokenSentence: c.tokenUnit, weights: c.weights },
    rejected: { policyLogps: c.rejectedPolicy, refLogps: c.rejectedRef },
    beta: c.beta,
    normalization,
  });
}

async function values(r: AspoTfResult) {
  const [loss, margin, dpoMargin, lambda] = await Promise.all([
    r.loss.data(),
    r.margin.data(),
    r.dpoMargin.data(),
    r.lambda.data(),
  ]);
  return { loss: loss[0], margin: margin[0], dpoMargin: dpoMargin[0], lambda: lambda[0] };
}

/**
 * Relative 1e-5, with a floor of 1 on the scale: margins are differences of
 * sums and may sit near 0, where float32 leaves an absolute, not a relative,
 * error.
 */
function expectClose(actual: number, expected: number, rel = 1e-5): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
}

function disposeAll(...ts: (tf.Tensor | AspoTfResult)[]): void {
  for (const t of ts) {
    if (t instanceof tf.Tensor) t.dispose();
    else tf.dispose([t.loss, t.margin, t.dpoMargin, t.lambda]);
  }
}

// The hand case of objective.test.ts: R_c = 1, R*_c = 1.375, R_r = -0.25, M = 1.25.
const hand: Case = {
  chosenPolicy: [-1, -2, -0.5, -1],
  chosenRef: [-2, -2, -1, -1.5],
  tokenUnit: [0, 0, 1, 2],
  weights: [0, 1, 0.5],
  rejectedPolicy: [-2, -1],
  rejectedRef: [-1, -1.5],
  beta: 0.5,
};

describe('aspoObjectiveTf', () => {
  it.each([
    // normalization, λ, M*, loss = log(1 + e^-M*)
    ['mean', 0.6666666666666666, 1.1666666666666667, 0.27109772722059755],
    ['reward-ratio', 0.7272727272727273, 1.25, 0.2519290813453729],
    ['none', 1, 1.625, 0.17974463538565905],
  ] as const)('matches the hand case (%s)', async (normalization, lambda, margin, loss) => {
    const r = aspoObjectiveTf(tfInput(hand, normalization));
    const v = await values(r);
    expectClose(v.lambda, lambda, 1e-6);
    expectClose(v.margin, margin, 1e-6);
    expectClose(v.loss, loss, 1e-6);
    expectClose(v.dpoMargin, 1.25, 1e-6);
    disposeAll(r);
  });

  it('agrees with the float64 objective on random inputs (loss and margin, all normalisations)', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.constantFrom(...NORMALIZATIONS), async (c, normalization) => {
        const r = aspoObjectiveTf(tfInput(c, normalization));
        const v = await values(r);
        disposeAll(r);
        const p = plain(c, normalization);
        expectClose(v.margin, p.margin);
        expectClose(v.loss, p.loss);
        expectClose(v.dpoMargin, p.dpoMargin);
        if (normalization !== 'reward-ratio' || Math.abs(p.rewardChosenWeighted) > 1e-3) {
          expectClose(v.lambda, p.lambda);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('gradient of M*: λβ(1 + w_i) per chosen token, -β per rejected token; of the loss: -σ(-M*) times that', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.constantFrom(...NORMALIZATIONS), async (c, normalization) => {
        const chosen = tf.tensor1d(c.chosenPolicy);
        const rejected = tf.tensor1d(c.rejectedPolicy);
        const forward = aspoObjectiveTf(tfInput(c, normalization, chosen, rejected));
        const { lambda, margin } = await values(forward);
        disposeAll(forward);

        const gradOf = (key: 'margin' | 'loss') =>
          tf.grads((x: tf.Tensor, y: tf.Tensor) => aspoObjectiveTf(tfInput(c, normalization, x as tf.Tensor1D, y as tf.Tensor1D))[key])([
            chosen,
            rejected,
          ]);
        const [gcMargin, grMargin] = gradOf('margin');
        const [gcLoss, grLoss] = gradOf('loss');
        const [gcm, grm, gcl, grl] = await Promise.all([gcMargin.data(), grMargin.data(), gcLoss.data(), grLoss.data()]);
        disposeAll(chosen, rejected, gcMargin, grMargin, gcLoss, grLoss);

        const sigmaNeg = 1 / (1 + Math.exp(margin));
        c.tokenUnit.forEach((u, t) => {
          const expected = lambda * c.beta * (1 + c.weights[u]);
          expectClose(gcm[t], expected);
          expectClose(gcl[t], -sigmaNeg * expected);
        });
        for (let t = 0; t < c.rejectedPolicy.length; t++) {
          expectClose(grm[t], -c.beta);
          expectClose(grl[t], sigmaNeg * c.beta);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('reward-ratio at policy = reference: λ falls back to mean and the gradient stays finite', async () => {
    // every r_i = 0 -> R*_c = 0 -> λ = 3 / (1 + 2 + 1.5); gradient λβ(1 + w) = (2/3) * 0.1 * [1, 2, 1.5]
    const c: Case = {
      chosenPolicy: [-1, -2, -0.5],
      chosenRef: [-1, -2, -0.5],
      tokenUnit: [0, 1, 2],
      weights: [0, 1, 0.5],
      rejectedPolicy: [-3],
      rejectedRef: [-3],
      beta: 0.1,
    };
    const chosen = tf.tensor1d(c.chosenPolicy);
    const rejected = tf.tensor1d(c.rejectedPolicy);
    const r = aspoObjectiveTf(tfInput(c, 'reward-ratio', chosen, rejected));
    const v = await values(r);
    expectClose(v.lambda, 0.6666666666666666, 1e-6);
    expectClose(v.margin, 0, 1e-6);
    expectClose(v.loss, 0.6931471805599453, 1e-6);
    const g = tf.grad((x: tf.Tensor) => aspoObjectiveTf(tfInput(c, 'reward-ratio', x as tf.Tensor1D, rejected)).margin)(chosen);
    const gv = Array.from(await g.data());
    [0.06666666666666667, 0.13333333333333333, 0.1].forEach((e, t) => expectClose(gv[t], e, 1e-6));
    disposeAll(r, g, chosen, rejected);
  });

  it('stays finite at extreme margins', async () => {
    // β = 1, one chosen token with log-ratio ±200, nothing rejected: M* = M = ±200
    for (const sign of [1, -1]) {
      const c: Case = {
        chosenPolicy: [sign > 0 ? 0 : -200],
        chosenRef: [sign > 0 ? -200 : 0],
        tokenUnit: [0],
        weights: [0],
        rejectedPolicy: [],
        rejectedRef: [],
        beta: 1,
      };
      const chosen = tf.tensor1d(c.chosenPolicy);
      const rejected = tf.tensor1d(c.rejectedPolicy);
      const r = aspoObjectiveTf(tfInput(c, 'mean', chosen, rejected));
      const v = await values(r);
      expect(v.margin).toBe(200 * sign);
      // log(1 + e^-200) ≈ 0; log(1 + e^200) ≈ 200
      expectClose(v.loss, sign > 0 ? 0 : 200, 1e-6);
      const g = tf.grad((x: tf.Tensor) => aspoObjectiveTf(tfInput(c, 'mean', x as tf.Tensor1D, rejected)).loss)(chosen);
      const gv = (await g.data())[0];
      // -σ(-M*)·λβ(1 + w): ≈ 0 for M* = 200, ≈ -1 for M* = -200
      expectClose(gv, sign > 0 ? 0 : -1, 1e-6);
      disposeAll(r, g, chosen, rejected);
    }
  });

  it('leaks no tensor, in the forward pass or under tf.grads, and can be returned from tf.tidy', async () => {
    const chosen = tf.tensor1d(hand.chosenPolicy);
    const rejected = tf.tensor1d(hand.rejectedPolicy);
    const before = tf.memory().numTensors;
    for (const normalization of NORMALIZATIONS) {
      const r = aspoObjectiveTf(tfInput(hand, normalization, chosen, rejected));
      expect(tf.memory().numTensors).toBe(before + 4);
      disposeAll(r);
      expect(tf.memory().numTensors).toBe(before);

      const wrapped = tf.tidy(() => aspoObjectiveTf(tfInput(hand, normalization, chosen, rejected)));
      expect((await wrapped.loss.data())[0]).toBeGreaterThan(0);
      disposeAll(wrapped);
      expect(tf.memory().numTensors).toBe(before);

      const gs = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        aspoObjectiveTf(tfInput(hand, normalization, x as tf.Tensor1D, y as tf.Tensor1D)).loss,
      )([chosen, rejected]);
      disposeAll(...gs);
      expect(tf.memory().numTensors).toBe(before);
    }
    disposeAll(chosen, rejected);
  });

  it('throws on mismatched shapes or a unit out of range', () => {
    const chosen = tf.tensor1d([-1, -2]);
    const rejected = tf.tensor1d([-1]);
    const base: AspoTfInput = {
      chosenPolicyLogps: chosen,
      rejectedPolicyLogps: rejected,
      chosenRefLogps: [-1, -1],
      rejectedRefLogps: [-1],
      tokenUnit: [0, 0],
      weights: [0],
      beta: 0.1,
      normalization: 'mean',
    };
    const before = tf.memory().numTensors;
    expect(() => aspoObjectiveTf({ ...base, chosenRefLogps: [-1] })).toThrow(/chosenPolicyLogps has 2 tokens/);
    expect(() => aspoObjectiveTf({ ...base, tokenUnit: [0] })).toThrow(/tokenUnit 1/);
    expect(() => aspoObjectiveTf({ ...base, rejectedRefLogps: [] })).toThrow(/rejectedRefLogps has 0/);
    expect(() => aspoObjectiveTf({ ...base, tokenUnit: [0, 1] })).toThrow(/tokenUnit\[1\] = 1/);
    expect(() => aspoObjectiveTf({ ...base, beta: NaN })).toThrow(/beta/);
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(chosen, rejected);
  });
});
