import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  aspoBatchMetrics,
  aspoLambda,
  aspoObjective,
  dpoLoss,
  granularityUnits,
  logSigmoid,
  meanLambda,
  sentenceRewards,
  type AspoInput,
  type BatchMetrics,
  type PairScores,
} from './objective';
import type { AspoSettings, Granularity, Normalization } from './settings';
import { adaptiveWeights } from './weights';

const NORMALIZATIONS: Normalization[] = ['mean', 'reward-ratio', 'none'];
const GRANULARITIES: Granularity[] = ['sentence', 'token', 'response'];

const logpArb = fc.double({ min: -10, max: 0, noNaN: true });
const betaArb = fc.double({ min: 0.01, max: 1, noNaN: true });
const weightArb = fc.double({ min: 0, max: 1, noNaN: true });
const normalizationArb = fc.constantFrom(...NORMALIZATIONS);
const similarityArbOne = fc.double({ min: -1, max: 1, noNaN: true });

function logpsArb(n: number) {
  return fc.array(logpArb, { minLength: n, maxLength: n });
}

/** A chosen response of `n` tokens over `k` units and a rejected response. */
function pairArb(k: number) {
  return fc
    .record({ nChosen: fc.integer({ min: k, max: 16 }), nRejected: fc.integer({ min: 0, max: 16 }) })
    .chain(({ nChosen, nRejected }) =>
      fc.record({
        chosenPolicy: logpsArb(nChosen),
        chosenRef: logpsArb(nChosen),
        tokenSentence: fc.array(fc.integer({ min: 0, max: k - 1 }), { minLength: nChosen, maxLength: nChosen }),
        rejectedPolicy: logpsArb(nRejected),
        rejectedRef: logpsArb(nRejected),
      }),
    );
}

type Pair = { chosenPolicy: number[]; chosenRef: number[]; tokenSentence: number[]; rejectedPolicy: number[]; rejectedRef: number[] };

function inputOf(pair: Pair, weights: number[], beta: number, normalization: Normalization): AspoInput {
  return {
    chosen: {
      policyLogps: pair.chosenPolicy,
      refLogps: pair.chosenRef,
      tokenSentence: pair.tokenSentence,
      weights,
    },
    rejected: { policyLogps: pair.rejectedPolicy, refLogps: pair.rejectedRef },
    beta,
    normalization,
  };
}

/** Any number of units, with arbitrary weights. */
const weightedPairArb = fc.integer({ min: 1, max: 5 }).chain((k) =>
  fc.record({
    pair: pairArb(k),
    weights: fc.array(weightArb, { minLength: k, maxLength: k }),
    beta: betaArb,
  }),
);

describe('sentenceRewards', () => {
  it('sums beta-scaled log-ratios per unit; an empty unit earns 0', () => {
    // diffs = [-1 - -1.5, -2 - -1, -0.5 - -0.5] = [0.5, -1, 0]
    // r0 = 0.5 * (0.5 - 1) = -0.25, r1 = 0.5 * 0 = 0, r2 = no tokens = 0
    expect(sentenceRewards([-1, -2, -0.5], [-1.5, -1, -0.5], [0, 0, 1], 3, 0.5)).toEqual([-0.25, 0, 0]);
    // one unit: 0.1 * ((-1 - -2) + (-3 - -1)) = 0.1 * -1
    expect(sentenceRewards([-1, -3], [-2, -1], [0, 0], 1, 0.1)[0]).toBeCloseTo(-0.1, 15);
    expect(sentenceRewards([], [], [], 2, 0.1)).toEqual([0, 0]);
  });

  it('throws on mismatched lengths or a unit out of range', () => {
    expect(() => sentenceRewards([-1], [-1, -2], [0], 1, 0.1)).toThrow(/policyLogps has 1 entries but refLogps has 2/);
    expect(() => sentenceRewards([-1], [-1], [0, 0], 1, 0.1)).toThrow(/tokenUnit has 2/);
    expect(() => sentenceRewards([-1], [-1], [1], 1, 0.1)).toThrow(/tokenUnit\[0\] = 1/);
    expect(() => sentenceRewards([-1], [-1], [0], 1, NaN)).toThrow(/beta/);
  });

  it('adds up to the response reward beta * (sum policy - sum reference)', () => {
    fc.assert(
      fc.property(weightedPairArb, ({ pair, weights, beta }) => {
        const r = sentenceRewards(pair.chosenPolicy, pair.chosenRef, pair.tokenSentence, weights.length, beta);
        const total = r.reduce((a, b) => a + b, 0);
        const expected =
          beta * (pair.chosenPolicy.reduce((a, b) => a + b, 0) - pair.chosenRef.reduce((a, b) => a + b, 0));
        expect(Math.abs(total - expected)).toBeLessThanOrEqual(1e-12 * (1 + 20 * pair.chosenPolicy.length));
      }),
    );
  });
});

describe('aspoLambda', () => {
  // r = [1, -0.5, 2], w = [0, 1, 0.5]: R_c = 2.5, R*_c = 1*1 + 2*(-0.5) + 1.5*2 = 3
  it('mean: K / sum(1 + w) = 3 / 4.5', () => {
    expect(aspoLambda([1, -0.5, 2], [0, 1, 0.5], 'mean')).toBeCloseTo(0.6666666666666666, 15);
  });
  it('reward-ratio: R_c / R*_c = 2.5 / 3', () => {
    expect(aspoLambda([1, -0.5, 2], [0, 1, 0.5], 'reward-ratio')).toBeCloseTo(0.8333333333333334, 15);
  });
  it('none: 1', () => {
    expect(aspoLambda([1, -0.5, 2], [0, 1, 0.5], 'none')).toBe(1);
  });
  it('reward-ratio falls back to mean when |R*_c| < 1e-6', () => {
    // R*_c = 1*1 + 2*(-0.5) = 0 -> mean: 2 / (1 + 2)
    expect(aspoLambda([1, -0.5], [0, 1], 'reward-ratio')).toBeCloseTo(0.6666666666666666, 15);
    // R*_c = 5e-7 -> mean: 1 / 1
    expect(aspoLambda([5e-7], [0], 'reward-ratio')).toBe(1);
    // policy = reference, every r_i = 0: 3 / (1.5 + 1.5 + 2)
    expect(aspoLambda([0, 0, 0], [0.5, 0.5, 1], 'reward-ratio')).toBeCloseTo(0.6, 15);
    // R*_c = 2e-6 is above the threshold: R_c / R*_c = 2e-6 / 2e-6
    expect(aspoLambda([2e-6], [0], 'reward-ratio')).toBe(1);
  });
  it('is 1 with no units and throws on mismatched lengths', () => {
    expect(meanLambda([])).toBe(1);
    expect(aspoLambda([], [], 'mean')).toBe(1);
    expect(() => aspoLambda([1], [0, 1], 'mean')).toThrow(/sentenceRewards has 1 entries but weights has 2/);
  });

  it('mean rescales the factors lambda(1 + w_i) to mean 1', () => {
    fc.assert(
      fc.property(fc.array(weightArb, { minLength: 1, maxLength: 30 }), (weights) => {
        const lambda = aspoLambda(
          weights.map(() => 0.3),
          weights,
          'mean',
        );
        const meanFactor = weights.reduce((a, w) => a + lambda * (1 + w), 0) / weights.length;
        expect(meanFactor).toBeCloseTo(1, 12);
      }),
    );
  });
});

describe('logSigmoid and dpoLoss', () => {
  it('match hand values', () => {
    // log σ(0) = log 1/2
    expect(logSigmoid(0)).toBeCloseTo(-0.6931471805599453, 15);
    // log σ(2) = -log(1 + e^-2) = -log(1.1353352832366127)
    expect(logSigmoid(2)).toBeCloseTo(-0.1269280110429725, 15);
    // log σ(-2) = -2 + log σ(2)
    expect(logSigmoid(-2)).toBeCloseTo(-2.1269280110429727, 14);
    expect(dpoLoss(0)).toBeCloseTo(0.6931471805599453, 15);
    // -log σ(0.5) = log(1 + e^-0.5)
    expect(dpoLoss(0.5)).toBeCloseTo(0.4740769841801067, 15);
  });

  it('does not overflow at large |x|', () => {
    expect(logSigmoid(-1000)).toBe(-1000);
    expect(logSigmoid(1000)).toBeCloseTo(0, 15);
    expect(dpoLoss(-800)).toBe(800);
  });

  it('is finite, non-positive and satisfies log σ(x) - log σ(-x) = x', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (x) => {
        const l = logSigmoid(x);
        expect(Number.isFinite(l)).toBe(true);
        expect(l).toBeLessThanOrEqual(0);
        expect(Math.abs(l - logSigmoid(-x) - x)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(x)));
      }),
    );
  });
});

describe('aspoObjective', () => {
  // diffs chosen = [-1 - -2, -2 - -2, -0.5 - -1, -1 - -1.5] = [1, 0, 0.5, 0.5]
  // r = 0.5 * [1 + 0, 0.5, 0.5] = [0.5, 0.25, 0.25], R_c = 1
  // R*_c = 1*0.5 + 2*0.25 + 1.5*0.25 = 1.375
  // diffs rejected = [-2 - -1, -1 - -1.5] = [-1, 0.5], R_r = 0.5 * -0.5 = -0.25
  // M = 1 - -0.25 = 1.25
  const hand = (normalization: Normalization): AspoInput => ({
    chosen: {
      policyLogps: [-1, -2, -0.5, -1],
      refLogps: [-2, -2, -1, -1.5],
      tokenSentence: [0, 0, 1, 2],
      weights: [0, 1, 0.5],
    },
    rejected: { policyLogps: [-2, -1], refLogps: [-1, -1.5] },
    beta: 0.5,
    normalization,
  });

  it('computes rewards, DPO margin and summed log-probs by hand', () => {
    const r = aspoObjective(hand('mean'));
    expect(r.sentenceRewardsChosen).toEqual([0.5, 0.25, 0.25]);
    expect(r.rewardChosen).toBe(1);
    expect(r.rewardRejected).toBe(-0.25);
    expect(r.rewardChosenWeighted).toBe(1.375);
    expect(r.dpoMargin).toBe(1.25);
    // -log σ(1.25) = log(1 + e^-1.25)
    expect(r.dpoLoss).toBeCloseTo(0.2519290813453729, 14);
    expect(r.logpsChosen).toBe(-4.5);
    expect(r.logpsRejected).toBe(-3);
  });

  it('mean: lambda = 3 / 4.5, M* = (2/3) * 1.375 + 0.25', () => {
    const r = aspoObjective(hand('mean'));
    expect(r.lambda).toBeCloseTo(0.6666666666666666, 15);
    expect(r.margin).toBeCloseTo(1.1666666666666667, 14);
    expect(r.loss).toBeCloseTo(0.27109772722059755, 14);
  });

  it('reward-ratio: lambda = 1 / 1.375, M* = M', () => {
    const r = aspoObjective(hand('reward-ratio'));
    expect(r.lambda).toBeCloseTo(0.7272727272727273, 15);
    expect(r.margin).toBeCloseTo(1.25, 14);
    expect(r.loss).toBeCloseTo(0.2519290813453729, 14);
  });

  it('none: lambda = 1, M* = 1.375 + 0.25', () => {
    const r = aspoObjective(hand('none'));
    expect(r.lambda).toBe(1);
    expect(r.margin).toBe(1.625);
    expect(r.loss).toBeCloseTo(0.17974463538565905, 14);
  });

  it('is DPO for one sentence: K = 1 by hand', () => {
    // r = 0.5 * ((-1 - -2) + (-2 - -2)) = 0.5; R_r = 0.5 * (-1 - -1) = 0; M = M* = 0.5
    for (const normalization of NORMALIZATIONS) {
      const r = aspoObjective({
        chosen: { policyLogps: [-1, -2], refLogps: [-2, -2], tokenSentence: [0, 0], weights: [0] },
        rejected: { policyLogps: [-1], refLogps: [-1] },
        beta: 0.5,
        normalization,
      });
      expect(r.lambda).toBe(1);
      expect(r.margin).toBe(0.5);
      expect(r.loss).toBeCloseTo(0.4740769841801067, 15);
      expect(r.loss).toBe(r.dpoLoss);
    }
  });

  it('at policy = reference the reward-ratio falls back to mean and the loss is log 2', () => {
    // every r_i = 0, R*_c = 0 -> lambda = 2 / (1 + 2); M* = 0
    const r = aspoObjective({
      chosen: { policyLogps: [-1, -2], refLogps: [-1, -2], tokenSentence: [0, 1], weights: [0, 1] },
      rejected: { policyLogps: [-3], refLogps: [-3] },
      beta: 0.1,
      normalization: 'reward-ratio',
    });
    expect(r.lambda).toBeCloseTo(0.6666666666666666, 15);
    expect(r.margin).toBe(0);
    expect(r.loss).toBeCloseTo(0.6931471805599453, 15);
  });

  it('handles an empty unit and empty responses', () => {
    // unit 1 has no token: r = [0.1 * 1, 0]; weights do not touch it; mean lambda = 2 / (1 + 2)
    const r = aspoObjective({
      chosen: { policyLogps: [-1], refLogps: [-2], tokenSentence: [0], weights: [0, 1] },
      rejected: { policyLogps: [], refLogps: [] },
      beta: 0.1,
      normalization: 'mean',
    });
    expect(r.sentenceRewardsChosen[0]).toBeCloseTo(0.1, 15);
    expect(r.sentenceRewardsChosen[1]).toBe(0);
    expect(r.rewardRejected).toBe(0);
    expect(r.margin).toBeCloseTo(0.06666666666666667, 15);
    const empty = aspoObjective({
      chosen: { policyLogps: [], refLogps: [], tokenSentence: [], weights: [] },
      rejected: { policyLogps: [], refLogps: [] },
      beta: 0.1,
      normalization: 'mean',
    });
    expect(empty.margin).toBe(0);
    expect(empty.lambda).toBe(1);
  });

  it('throws on a token whose unit has no weight', () => {
    const bad = hand('mean');
    bad.chosen.tokenSentence = [0, 0, 1, 3];
    expect(() => aspoObjective(bad)).toThrow(/tokenUnit\[3\] = 3 is not a unit index in \[0, 3\)/);
  });

  it('one sentence => ASPO loss equals DPO loss (all normalisations)', () => {
    fc.assert(
      fc.property(
        pairArb(1),
        betaArb,
        normalizationArb,
        similarityArbOne,
        fc.double({ min: 1, max: 1e3, noNaN: true }),
        weightArb,
        (pair, beta, normalization, s, ppl, alpha) => {
          const { weight } = adaptiveWeights([s], [ppl], alpha);
          const r = aspoObjective(inputOf(pair, weight, beta, normalization));
          expect(r.lambda).toBe(1);
          expect(r.margin).toBe(r.dpoMargin);
          expect(r.loss).toBe(r.dpoLoss);
        },
      ),
    );
  });

  it('one sentence with mean normalisation cancels any weight', () => {
    fc.assert(
      fc.property(pairArb(1), betaArb, weightArb, (pair, beta, w) => {
        const r = aspoObjective(inputOf(pair, [w], beta, 'mean'));
        expect(Math.abs(r.margin - r.dpoMargin)).toBeLessThanOrEqual(
          1e-12 * (1 + Math.abs(r.rewardChosen) + Math.abs(r.rewardRejected)),
        );
      }),
    );
  });

  it('all sentences alike (equal S and PPL) => ASPO equals DPO (all normalisations)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }).chain((k) => fc.record({ k: fc.constant(k), pair: pairArb(k) })),
        betaArb,
        normalizationArb,
        similarityArbOne,
        fc.double({ min: 1, max: 1e3, noNaN: true }),
        weightArb,
        ({ k, pair }, beta, normalization, s, ppl, alpha) => {
          const { weight } = adaptiveWeights(new Array(k).fill(s), new Array(k).fill(ppl), alpha);
          const r = aspoObjective(inputOf(pair, weight, beta, normalization));
          expect(r.lambda).toBe(1);
          expect(r.margin).toBe(r.dpoMargin);
          expect(r.loss).toBe(r.dpoLoss);
        },
      ),
    );
  });

  it('reward-ratio margin equals the DPO margin in value when |R*_c| >= 1e-6', () => {
    fc.assert(
      fc.property(weightedPairArb, ({ pair, weights, beta }) => {
        const r = aspoObjective(inputOf(pair, weights, beta, 'reward-ratio'));
        if (Math.abs(r.rewardChosenWeighted) >= 1e-6) {
          expect(r.lambda).toBe(r.rewardChosen / r.rewardChosenWeighted);
          expect(Math.abs(r.margin - r.dpoMargin)).toBeLessThanOrEqual(
            1e-12 * (1 + Math.abs(r.rewardChosen) + Math.abs(r.rewardRejected)),
          );
        } else {
          expect(r.lambda).toBe(meanLambda(weights));
        }
      }),
    );
  });

  it('mean lambda makes the mean of lambda(1 + w_i) equal 1 and M* consistent', () => {
    fc.assert(
      fc.property(weightedPairArb, ({ pair, weights, beta }) => {
        const r = aspoObjective(inputOf(pair, weights, beta, 'mean'));
        const meanFactor = weights.reduce((a, w) => a + r.lambda * (1 + w), 0) / weights.length;
        expect(meanFactor).toBeCloseTo(1, 12);
        expect(r.margin).toBeCloseTo(r.lambda * r.rewardChosenWeighted - r.rewardRejected, 12);
        expect(r.loss).toBeCloseTo(dpoLoss(r.margin), 12);
      }),
    );
  });
});

// Pair A: sentences s0 = tokens 0-1, s1 = token 2, s2 = token 3.
//   policy PPL: s0 exp(1.5), s1 exp(0.5), s2 exp(1)
//     -> P̂ = [0, 1, (e^1.5 - e)/(e^1.5 - e^0.5) = σ(0.5) = 0.6224593312018546]
//   reference PPL: s0 exp(2), s1 exp(1), s2 exp(3)
//     -> P̂ = [(e^3 - e^2)/(e^3 - e) = σ(1) = 0.7310585786300049, 1, 0]
//   S = [0.25, 0.75, 0.5] -> Ŝ = [0, 1, 0.5]
// Pair B: S = [0.5, 0.3] -> Ŝ = [1, 0]; policy PPL [e^0.5, e^0.5] -> P̂ = [0, 0]
const pairA: PairScores = {
  chosen: {
    policyLogps: [-1, -2, -0.5, -1],
    refLogps: [-2, -2, -1, -3],
    tokenSentence: [0, 0, 1, 2],
    similarity: [0.25, 0.75, 0.5],
  },
  rejected: { policyLogps: [-2, -1], refLogps: [-1, -1.5] },
};
const pairB: PairScores = {
  chosen: { policyLogps: [-0.5, -0.5], refLogps: [-1, -1], tokenSentence: [0, 1], similarity: [0.5, 0.3] },
  rejected: { policyLogps: [-0.5], refLogps: [-2] },
};

const settings = (over: Partial<AspoSettings> = {}): AspoSettings => ({
  objective: 'aspo',
  alpha: 0.5,
  beta: 0.5,
  normalization: 'mean',
  granularity: 'sentence',
  perplexitySource: 'policy',
  ...over,
});

function expectAllClose(actual: number[], expected: number[], digits = 14): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], digits));
}

describe('granularityUnits', () => {
  it('sentence, policy perplexity: units are sentences', () => {
    const [a] = granularityUnits([pairA], settings());
    expect(a.tokenUnit).toEqual([0, 0, 1, 2]);
    // 0.5*Ŝ + 0.5*P̂ = [0, 1, 0.25 + 0.5*0.6224593312018546]
    expectAllClose(a.weights, [0, 1, 0.5612296656009272]);
  });

  it('sentence, reference perplexity', () => {
    const [a] = granularityUnits([pairA], settings({ perplexitySource: 'reference' }));
    // 0.5*[0, 1, 0.5] + 0.5*[0.7310585786300049, 1, 0]
    expectAllClose(a.weights, [0.36552928931500245, 1, 0.25]);
  });

  it('token: P̂ from each token, Ŝ from its sentence', () => {
    const [a] = granularityUnits([pairA], settings({ granularity: 'token' }));
    expect(a.tokenUnit).toEqual([0, 1, 2, 3]);
    // token PPL = [e, e^2, e^0.5, e] -> P̂ = [(e^2 - e)/(e^2 - e^0.5), 0, 1, same as token 0]
    //   (7.38905609893065 - 2.718281828459045) / (7.38905609893065 - 1.6487212707001282) = 0.8136762767741526
    // token Ŝ = Ŝ of sentence [0, 0, 1, 2] = [0, 0, 1, 0.5]
    expectAllClose(a.weights, [0.4068381383870763, 0, 1, 0.6568381383870763]);
  });

  it('token: Ŝ is normalised over sentences, even over one holding no token', () => {
    // S = [0.25, 0.75, 0.5] -> Ŝ = [0, 1, 0.5]; the tokens sit in sentences 1 and 2 -> token Ŝ = [1, 0.5]
    // token PPL = [e^1, e^0.5] -> P̂ = [0, 1]; w = 0.5*[1, 0.5] + 0.5*[0, 1] = [0.5, 0.75]
    const pair: PairScores = {
      chosen: { policyLogps: [-1, -0.5], refLogps: [-1, -1], tokenSentence: [1, 2], similarity: [0.25, 0.75, 0.5] },
      rejected: { policyLogps: [], refLogps: [] },
    };
    expect(granularityUnits([pair], settings({ granularity: 'token' }))).toEqual([
      { tokenUnit: [0, 1], weights: [0.5, 0.75] },
    ]);
  });

  it('response: one unit per response, normalised across the batch', () => {
    const units = granularityUnits([pairA, pairB], settings({ granularity: 'response', alpha: 0.25 }));
    // S: A mean(0.25, 0.75, 0.5) = 0.5, B mean(0.5, 0.3) = 0.4 -> Ŝ = [1, 0]
    // PPL: A exp(4.5/4) = exp(1.125), B exp(0.5) -> P̂ = [0, 1]
    // w = 0.25*Ŝ + 0.75*P̂ = [0.25, 0.75]
    expect(units).toEqual([
      { tokenUnit: [0, 0, 0, 0], weights: [0.25] },
      { tokenUnit: [0, 0], weights: [0.75] },
    ]);
    // a batch of one has nothing to compare with: weight 0
    expect(granularityUnits([pairA], settings({ granularity: 'response' }))[0].weights).toEqual([0]);
  });

  it('response granularity throws on a response without sentences', () => {
    const empty: PairScores = { ...pairB, chosen: { ...pairB.chosen, similarity: [] } };
    expect(() => granularityUnits([pairA, empty], settings({ granularity: 'response' }))).toThrow(
      /pair 1: response granularity needs at least one sentence similarity/,
    );
  });

  it('objective dpo gives weight 0 everywhere', () => {
    for (const granularity of GRANULARITIES) {
      for (const u of granularityUnits([pairA, pairB], settings({ objective: 'dpo', granularity }))) {
        expect(u.weights.every((w) => w === 0)).toBe(true);
      }
    }
  });

  it('every weight lies in [0, 1], one per unit, for every granularity', () => {
    const scoredPairArb = fc.integer({ min: 1, max: 4 }).chain((k) =>
      pairArb(k).chain((p) =>
        fc.array(similarityArbOne, { minLength: k, maxLength: k }).map(
          (similarity): PairScores => ({
            chosen: { policyLogps: p.chosenPolicy, refLogps: p.chosenRef, tokenSentence: p.tokenSentence, similarity },
            rejected: { policyLogps: p.rejectedPolicy, refLogps: p.rejectedRef },
          }),
        ),
      ),
    );
    fc.assert(
      fc.property(
        fc.array(scoredPairArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...GRANULARITIES),
        fc.constantFrom<AspoSettings['perplexitySource'][]>('policy', 'reference'),
        weightArb,
        (pairs, granularity, perplexitySource, alpha) => {
          const units = granularityUnits(pairs, settings({ granularity, perplexitySource, alpha }));
          units.forEach((u, p) => {
            expect(u.tokenUnit).toHaveLength(pairs[p].chosen.policyLogps.length);
            const unitCount = granularity === 'sentence' ? pairs[p].chosen.similarity.length : granularity === 'token' ? u.tokenUnit.length : 1;
            expect(u.weights).toHaveLength(unitCount);
            for (const w of u.weights) {
              expect(w).toBeGreaterThanOrEqual(0);
              expect(w).toBeLessThanOrEqual(1);
            }
          });
        },
      ),
    );
  });
});

describe('aspoBatchMetrics', () => {
  it('computes every key on a two-pair hand case (aspo, sentence, mean)', () => {
    // A: w = [0, 1, 0.5612296656009272]; chosen diffs [1, 0, 0.5, 2] -> r = [0.5, 0.25, 1], R_c = 1.75
    //    rejected diffs [-1, 0.5] -> R_r = -0.25
    //    R*_c = 0.5 + 2*0.25 + 1.5612296656009272*1 = 2.5612296656009272
    //    λ = 3 / 4.5612296656009272 = 0.6577173744669925, M* = λ R*_c + 0.25 = 1.9345652510660152
    // B: w = [0.5, 0]; chosen diffs [0.5, 0.5] -> r = [0.25, 0.25], R_c = 0.5
    //    rejected diff 1.5 -> R_r = 0.75; R*_c = 1.5*0.25 + 0.25 = 0.625
    //    λ = 2 / 2.5 = 0.8, M* = 0.5 - 0.75 = -0.25
    const m = aspoBatchMetrics([pairA, pairB], settings());
    const expected: BatchMetrics = {
      // (log(1 + e^-1.9345652510660152) + log(1 + e^0.25)) / 2 = (0.1349565635105062 + 0.8259394198788436) / 2
      loss: 0.4804479916946749,
      'rewards/chosen': 1.125, // (1.75 + 0.5) / 2
      'rewards/rejected': 0.25, // (-0.25 + 0.75) / 2
      'rewards/margins': 0.875, // (2 + -0.25) / 2
      'rewards/accuracies': 0.5, // A: 1.75 > -0.25, B: 0.5 < 0.75
      'logps/chosen': -2.75, // (-4.5 + -1) / 2
      'logps/rejected': -1.75, // (-3 + -0.5) / 2
      'aspo/margin': 0.8422826255330076, // (1.9345652510660152 - 0.25) / 2
      'aspo/lambda': 0.7288586872334963, // (0.6577173744669925 + 0.8) / 2
      'aspo/weight_mean': 0.4122459331201854, // (0 + 1 + 0.5612296656009272 + 0.5 + 0) / 5
      'aspo/weight_std': 0.37821824141092575, // population std of those five
    };
    expect(Object.keys(m).sort()).toEqual(Object.keys(expected).sort());
    for (const key of Object.keys(expected) as (keyof BatchMetrics)[]) {
      expect(m[key], key).toBeCloseTo(expected[key], 13);
    }
  });

  it('under objective dpo reports the DPO loss, lambda 1 and no weights', () => {
    // A: M = 1.75 + 0.25 = 2; B: M = 0.5 - 0.75 = -0.25
    const m = aspoBatchMetrics([pairA, pairB], settings({ objective: 'dpo' }));
    // (log(1 + e^-2) + log(1 + e^0.25)) / 2
    expect(m.loss).toBeCloseTo(0.476433715460908, 13);
    expect(m['aspo/margin']).toBeCloseTo(0.875, 14);
    expect(m['rewards/margins']).toBeCloseTo(0.875, 14);
    expect(m['aspo/lambda']).toBe(1);
    expect(m['aspo/weight_mean']).toBe(0);
    expect(m['aspo/weight_std']).toBe(0);
    expect(m['rewards/accuracies']).toBe(0.5);
  });

  it('counts a tie R_c = R_r as inaccurate', () => {
    // R_c = 0.5 * (-1 - -1) = 0 = R_r
    const tie: PairScores = {
      chosen: { policyLogps: [-1], refLogps: [-1], tokenSentence: [0], similarity: [0.4] },
      rejected: { policyLogps: [-2], refLogps: [-2] },
    };
    expect(aspoBatchMetrics([tie], settings())['rewards/accuracies']).toBe(0);
    expect(aspoBatchMetrics([pairA, tie], settings())['rewards/accuracies']).toBe(0.5);
  });

  it('throws on an empty batch', () => {
    expect(() => aspoBatchMetrics([], settings())).toThrow(/at least one pair/);
  });
});
