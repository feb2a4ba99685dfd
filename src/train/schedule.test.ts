import { describe, expect, it } from 'vitest';
import { learningRate } from './schedule';

describe('learningRate: linear warm-up, then cosine decay to 0', () => {
  it('matches values worked out by hand (lr 1, 2 warm-up steps, 6 steps)', () => {
    // warm-up: (s+1)/W → 0.5, 1; cosine over N−W = 4 steps: ½(1 + cos(π·k/4)) for k = 0..3
    const expected = [0.5, 1, 1, 0.8535533905932737, 0.5, 0.14644660940672627];
    expected.forEach((lr, step) => expect(learningRate(step, 1, 2, 6)).toBeCloseTo(lr, 12));
    expect(learningRate(6, 1, 2, 6)).toBe(0);
  });

  it('starts at the peak without warm-up and scales with lr', () => {
    expect(learningRate(0, 5e-5, 0, 4)).toBe(5e-5);
    expect(learningRate(1, 5e-5, 0, 4)).toBeCloseTo(5e-5 * 0.8535533905932737, 15);
    expect(learningRate(2, 2e-3, 0, 4)).toBeCloseTo(1e-3, 15);
    expect(learningRate(0, 1, 0, 1)).toBe(1);
  });

  it('never returns a negative rate and is monotone after warm-up', () => {
    let previous = Infinity;
    for (let s = 3; s < 103; s++) {
      const lr = learningRate(s, 1, 3, 103);
      expect(lr).toBeGreaterThan(0);
      expect(lr).toBeLessThanOrEqual(previous);
      previous = lr;
    }
  });

  it('rejects bad arguments with the argument named', () => {
    expect(() => learningRate(-1, 1, 0, 4)).toThrow(/step/);
    expect(() => learningRate(0, 1, 0.5, 4)).toThrow(/warmupSteps/);
    expect(() => learningRate(0, 1, 0, 0)).toThrow(/totalSteps/);
  });
});
