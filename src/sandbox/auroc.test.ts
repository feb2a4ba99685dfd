import { describe, expect, it } from 'vitest';
import { auroc } from './auroc';

describe('auroc', () => {
  it('is 1 when every positive is above every negative, 0 when below', () => {
    expect(auroc([3, 4], [1, 2])).toBe(1);
    expect(auroc([1, 2], [3, 4])).toBe(0);
  });

  it('is the share of (positive, negative) pairs ordered right, a tie counting one half', () => {
    // pairs: (2,1) right, (2,3) wrong, (2,2) a tie, (5,1) right, (5,3) right, (5,2) right: 4.5 of 6
    expect(auroc([2, 5], [1, 3, 2])).toBe(4.5 / 6);
    // all tied: one half
    expect(auroc([7, 7], [7, 7, 7])).toBe(0.5);
    // (0.1 vs 0.2) wrong, (0.1 vs 0.1) tie, (0.9 vs both) right, (0.4 vs 0.2) right, (0.4 vs 0.1) right: 4.5 of 6
    expect(auroc([0.1, 0.9, 0.4], [0.2, 0.1])).toBe(4.5 / 6);
  });

  it('does not depend on the order of the scores', () => {
    expect(auroc([5, 2], [2, 3, 1])).toBe(auroc([2, 5], [1, 3, 2]));
  });

  it('refuses empty or non-finite scores, saying which', () => {
    expect(() => auroc([], [1])).toThrow(/at least one positive and one negative.*0 positives, 1 negatives/);
    expect(() => auroc([1], [])).toThrow(/1 positives, 0 negatives/);
    expect(() => auroc([1, NaN], [0])).toThrow(/a positive score is NaN/);
    expect(() => auroc([1], [Infinity])).toThrow(/a negative score is Infinity/);
  });
});
