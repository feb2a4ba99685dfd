import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  adaptiveWeights,
  combineWeights,
  minMaxNormalize,
  negatedMinMaxNormalize,
  sentencePerplexity,
  sequencePerplexity,
} from './weights';

const similarityArb = fc.double({ min: -1, max: 1, noNaN: true });
const perplexityArb = fc.double({ min: 1, max: 1e4, noNaN: true });
const alphaArb = fc.double({ min: 0, max: 1, noNaN: true });

/** Similarities and perplexities of one response with K sentences. */
const sentencesArb = fc.integer({ min: 1, max: 12 }).chain((k) =>
  fc.record({
    similarity: fc.array(similarityArb, { minLength: k, maxLength: k }),
    perplexity: fc.array(perplexityArb, { minLength: k, maxLength: k }),
  }),
);

describe('minMaxNormalize', () => {
  it('maps min to 0, max to 1 and the rest linearly', () => {
    // min 2, max 6, range 4: (2-2)/4, (6-2)/4, (3-2)/4
    expect(minMaxNormalize([2, 6, 3])).toEqual([0, 1, 0.25]);
    // min -0.5, max 0.5, range 1: 0.5/1, 0/1, 1/1
    expect(minMaxNormalize([0, -0.5, 0.5])).toEqual([0.5, 0, 1]);
  });

  it('gives 0 everywhere when every value is equal, including one sentence', () => {
    expect(minMaxNormalize([5, 5, 5])).toEqual([0, 0, 0]);
    expect(minMaxNormalize([0.7])).toEqual([0]);
    expect(minMaxNormalize([])).toEqual([]);
  });

  it('throws on a non-finite value', () => {
    expect(() => minMaxNormalize([1, NaN])).toThrow(/values\[1\]/);
    expect(() => minMaxNormalize([Infinity, 1])).toThrow(/finite/);
  });

  it('stays in [0, 1] and reaches both ends when the values differ', () => {
    fc.assert(
      fc.property(fc.array(similarityArb, { minLength: 1, maxLength: 20 }), (values) => {
        const out = minMaxNormalize(values);
        expect(out).toHaveLength(values.length);
        for (const v of out) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
        if (Math.max(...values) > Math.min(...values)) {
          expect(out[values.indexOf(Math.min(...values))]).toBe(0);
          expect(out[values.indexOf(Math.max(...values))]).toBe(1);
        } else {
          expect(out.every((v) => v === 0)).toBe(true);
        }
      }),
    );
  });
});

describe('negatedMinMaxNormalize', () => {
  it('maps the largest value to 0 and the smallest to 1', () => {
    // max 6, min 2, range 4: (6-2)/4, (6-6)/4, (6-3)/4
    expect(negatedMinMaxNormalize([2, 6, 3])).toEqual([1, 0, 0.75]);
    // perplexities 4, 2, 3.5: (4-4)/2, (4-2)/2, (4-3.5)/2
    expect(negatedMinMaxNormalize([4, 2, 3.5])).toEqual([0, 1, 0.25]);
  });

  it('gives 0 when degenerate', () => {
    expect(negatedMinMaxNormalize([3, 3])).toEqual([0, 0]);
    expect(negatedMinMaxNormalize([9])).toEqual([0]);
    expect(negatedMinMaxNormalize([])).toEqual([]);
  });

  it('is one minus the min-max normalisation when the values differ', () => {
    fc.assert(
      fc.property(fc.array(perplexityArb, { minLength: 2, maxLength: 20 }), (values) => {
        fc.pre(Math.max(...values) > Math.min(...values));
        const neg = negatedMinMaxNormalize(values);
        const pos = minMaxNormalize(values);
        neg.forEach((v, i) => expect(v).toBeCloseTo(1 - pos[i], 12));
      }),
    );
  });
});

describe('sequencePerplexity', () => {
  it('is exp of minus the mean log-prob', () => {
    // mean(-1, -3) = -2, exp(2) = 7.38905609893065
    expect(sequencePerplexity([-1, -3])).toBeCloseTo(7.38905609893065, 12);
    // every token has probability 1/2: perplexity 2
    expect(sequencePerplexity([-0.6931471805599453, -0.6931471805599453, -0.6931471805599453])).toBeCloseTo(
      2,
      12,
    );
    // certain tokens: perplexity 1
    expect(sequencePerplexity([0, 0])).toBe(1);
  });

  it('gives the neutral 1 for an empty sequence', () => {
    expect(sequencePerplexity([])).toBe(1);
  });
});

describe('sentencePerplexity', () => {
  it('averages within each sentence; an empty sentence gets 1', () => {
    // s0: mean(-1, -3) = -2 -> exp(2); s1: mean(-0.5, -0.5) -> exp(0.5); s2: no tokens -> 1
    const ppl = sentencePerplexity([-1, -3, -0.5, -0.5], [0, 0, 1, 1], 3);
    expect(ppl).toHaveLength(3);
    expect(ppl[0]).toBeCloseTo(7.38905609893065, 12);
    expect(ppl[1]).toBeCloseTo(1.6487212707001282, 12);
    expect(ppl[2]).toBe(1);
  });

  it('handles one sentence and tokens out of order', () => {
    // one sentence: mean(-1, -2) = -1.5 -> exp(1.5)
    expect(sentencePerplexity([-1, -2], [0, 0], 1)[0]).toBeCloseTo(4.4816890703380645, 12);
    // s1 gets tokens 0 and 2: mean(-2, -1) = -1.5; s0 gets token 1: exp(0.5)
    const ppl = sentencePerplexity([-2, -0.5, -1], [1, 0, 1], 2);
    expect(ppl[0]).toBeCloseTo(1.6487212707001282, 12);
    expect(ppl[1]).toBeCloseTo(4.4816890703380645, 12);
  });

  it('throws on a length mismatch or an index out of range', () => {
    expect(() => sentencePerplexity([-1, -2], [0], 1)).toThrow(/tokenLogps has 2 entries but tokenSentence has 1/);
    expect(() => sentencePerplexity([-1, -2], [0, 3], 3)).toThrow(/tokenSentence\[1\] = 3/);
    expect(() => sentencePerplexity([-1], [-1], 2)).toThrow(/tokenSentence\[0\] = -1/);
    expect(() => sentencePerplexity([-1], [0.5], 2)).toThrow(/not a sentence index/);
    expect(() => sentencePerplexity([], [], -1)).toThrow(/sentenceCount/);
  });

  it('equals sequencePerplexity for a single sentence and exp(-l) per token', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -20, max: 0, noNaN: true }), { maxLength: 30 }), (logps) => {
        const one = sentencePerplexity(
          logps,
          logps.map(() => 0),
          1,
        );
        expect(one[0]).toBeCloseTo(sequencePerplexity(logps), 9);
        const perToken = sentencePerplexity(
          logps,
          logps.map((_, t) => t),
          logps.length,
        );
        perToken.forEach((p, t) => expect(p).toBe(Math.exp(-logps[t])));
      }),
    );
  });
});

describe('combineWeights', () => {
  it('mixes normalised similarity and perplexity by alpha', () => {
    // 0.25*[0, 1, 0.5] + 0.75*[0, 1, 0.25] = [0, 1, 0.125 + 0.1875]
    expect(combineWeights([0, 1, 0.5], [0, 1, 0.25], 0.25)).toEqual([0, 1, 0.3125]);
  });

  it('throws on a bad alpha or mismatched lengths', () => {
    expect(() => combineWeights([0], [0], 1.5)).toThrow(/alpha/);
    expect(() => combineWeights([0], [0, 1], 0.5)).toThrow(/simNorm has 1 entries but pplNorm has 2/);
  });
});

describe('adaptiveWeights', () => {
  it('normalises both scores over the response, then mixes them', () => {
    // S = [0.25, 0.75, 0.5] -> Ŝ = [0, 1, 0.5]
    // PPL = [4, 2, 3.5] -> P̂ = [(4-4)/2, (4-2)/2, (4-3.5)/2] = [0, 1, 0.25]
    const half = adaptiveWeights([0.25, 0.75, 0.5], [4, 2, 3.5], 0.5);
    expect(half.simNorm).toEqual([0, 1, 0.5]);
    expect(half.pplNorm).toEqual([0, 1, 0.25]);
    // 0.5*0.5 + 0.5*0.25 = 0.375
    expect(half.weight).toEqual([0, 1, 0.375]);
    // Ŝ opposes P̂: S = [0.75, 0.25] -> [1, 0]; PPL = [4, 2] -> [0, 1]; alpha 0.25 -> [0.25, 0.75]
    expect(adaptiveWeights([0.75, 0.25], [4, 2], 0.25).weight).toEqual([0.25, 0.75]);
  });

  it('gives weight 0 for one sentence or when every sentence scores alike', () => {
    expect(adaptiveWeights([0.31], [12.5], 0.5)).toEqual({ simNorm: [0], pplNorm: [0], weight: [0] });
    expect(adaptiveWeights([0.2, 0.2, 0.2], [3, 3, 3], 0.7).weight).toEqual([0, 0, 0]);
  });

  it('throws on alpha outside [0, 1] and on mismatched lengths', () => {
    expect(() => adaptiveWeights([0.1], [2], -0.1)).toThrow(/alpha must lie in \[0, 1\]/);
    expect(() => adaptiveWeights([0.1], [2], 1.01)).toThrow(/alpha/);
    expect(() => adaptiveWeights([0.1], [2], NaN)).toThrow(/alpha/);
    expect(() => adaptiveWeights([0.1, 0.2], [2], 0.5)).toThrow(/similarity has 2 entries but perplexity has 1/);
  });

  it('keeps every weight in [0, 1]', () => {
    fc.assert(
      fc.property(sentencesArb, alphaArb, ({ similarity, perplexity }, alpha) => {
        for (const w of adaptiveWeights(similarity, perplexity, alpha).weight) {
          expect(w).toBeGreaterThanOrEqual(0);
          expect(w).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it('ignores perplexity at alpha = 1 (ASPO-S) and similarity at alpha = 0 (ASPO-P)', () => {
    fc.assert(
      fc.property(
        sentencesArb.chain((a) =>
          fc.record({
            a: fc.constant(a),
            otherPerplexity: fc.array(perplexityArb, { minLength: a.similarity.length, maxLength: a.similarity.length }),
            otherSimilarity: fc.array(similarityArb, { minLength: a.similarity.length, maxLength: a.similarity.length }),
          }),
        ),
        ({ a, otherPerplexity, otherSimilarity }) => {
          // Numeric equality: α·Ŝ + 0·P̂ turns a −0 in Ŝ (from S = −0) into +0, which toEqual would tell apart.
          const same = (x: number[], y: number[]) => expect(x.map((v) => v + 0)).toEqual(y.map((v) => v + 0));
          const s = adaptiveWeights(a.similarity, a.perplexity, 1);
          same(adaptiveWeights(a.similarity, otherPerplexity, 1).weight, s.weight);
          same(s.weight, s.simNorm);
          const p = adaptiveWeights(a.similarity, a.perplexity, 0);
          same(adaptiveWeights(otherSimilarity, a.perplexity, 0).weight, p.weight);
          same(p.weight, p.pplNorm);
        },
      ),
    );
  });

  it('gives all-zero weights when every sentence has the same S and PPL', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), similarityArb, perplexityArb, alphaArb, (k, s, p, alpha) => {
        const w = adaptiveWeights(new Array(k).fill(s), new Array(k).fill(p), alpha).weight;
        expect(w).toEqual(new Array(k).fill(0));
      }),
    );
  });
});
