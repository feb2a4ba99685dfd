import { describe, expect, it } from 'vitest';
import { countMetrics, countProbes, separation } from './evalFigures';
import { balancedProbes } from './judge';
import type { Scene } from './scene';

const SCENE: Scene = {
  background: 'black',
  groups: [
    { count: 3, colour: 'yellow', shape: 'triangle', side: 'left' },
    { count: 1, colour: 'green', shape: 'circle', side: 'right' },
  ],
};

describe('countProbes / countMetrics', () => {
  it('asks how many of each probed pair, with the count (0 when absent) as the answer', () => {
    const probes = balancedProbes(SCENE, 4);
    const asked = countProbes(SCENE, probes);
    expect(asked.slice(0, 2)).toEqual([
      { question: 'How many yellow triangles are there?', truth: 3 },
      { question: 'How many green circles are there?', truth: 1 },
    ]);
    expect(asked.slice(2).map((q) => q.truth)).toEqual([0, 0]);
  });

  it('counts exact answers right; anything else is wrong, and unparsed unless it is a number word', () => {
    const m = countMetrics([
      { truth: 3, answer: 'Three.' },
      { truth: 1, answer: ' One.\n' },
      { truth: 0, answer: 'One.' },
      { truth: 0, answer: 'zero' },
      { truth: 2, answer: 'Two' },
    ]);
    expect(m).toEqual({ questions: 5, accuracy: 2 / 5, unparsed: 2 });
    expect(countMetrics([])).toEqual({ questions: 0, accuracy: null, unparsed: 0 });
  });
});

describe('separation', () => {
  const row = (verdict: 'correct' | 'hallucinated' | 'unparsed', simNorm: number, pplNorm: number, weight: number) => ({ verdict, simNorm, pplNorm, weight });

  it('is the share of (correct, hallucinated) pairs that the score orders right, ties half; unparsed sentences take no part', () => {
    const s = separation([
      row('correct', 1, 0, 0.5),
      row('correct', 0.4, 1, 0.2),
      row('hallucinated', 0.4, 0.5, 0.9),
      row('hallucinated', 0, 1, 0.1),
      row('unparsed', 0.9, 0.9, 1),
    ]);
    // Ŝ: (1 > 0.4) (1 > 0) (0.4 = 0.4: ½) (0.4 > 0) → 3.5 / 4. P̂: (0 < 0.5) (0 < 1) (1 > 0.5) (1 = 1: ½) → 1.5 / 4.
    // w: (0.5 < 0.9) (0.5 > 0.1) (0.2 < 0.9) (0.2 > 0.1) → 2 / 4.
    expect(s).toEqual({ correct: 2, hallucinated: 2, simNorm: 3.5 / 4, pplNorm: 1.5 / 4, weight: 0.5 });
  });

  it('is null with either class empty', () => {
    expect(separation([row('correct', 1, 1, 1), row('unparsed', 0, 0, 0)])).toEqual({ correct: 1, hallucinated: 0, simNorm: null, pplNorm: null, weight: null });
    expect(separation([])).toEqual({ correct: 0, hallucinated: 0, simNorm: null, pplNorm: null, weight: null });
  });
});
