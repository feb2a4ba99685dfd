import { describe, expect, it } from 'vitest';
import { clipSimilarity } from './similarity';

describe('clipSimilarity (Eq. 6)', () => {
  it('is the cosine of the two vectors, worked by hand', () => {
    // [1, 0]·[1, 1] / (1 · √2) = 1/√2; [0, 2]·[1, 1] / (2 · √2) = 1/√2; [−3, 0] → −1/√2; [1, −1] → 0
    const s = clipSimilarity([[1, 0], [0, 2], [-3, 0], [1, -1]], [1, 1]);
    expect(s[0]).toBeCloseTo(Math.SQRT1_2, 15);
    expect(s[1]).toBeCloseTo(Math.SQRT1_2, 15);
    expect(s[2]).toBeCloseTo(-Math.SQRT1_2, 15);
    expect(s[3]).toBeCloseTo(0, 15);
    // 3-4-5: [3, 4, 0]·[0, 4, 3] = 16, norms 5 and 5 → 0.64
    expect(clipSimilarity([[3, 4, 0]], [0, 4, 3])[0]).toBeCloseTo(0.64, 15);
  });

  it('ignores the vectors’ lengths (L2-normalised first) and lies in [−1, 1]', () => {
    const t = [0.3, -1.2, 2.5, 0.1];
    const i = [-0.7, 0.4, 1.9, -2.2];
    const base = clipSimilarity([t], i)[0];
    expect(clipSimilarity([t.map((x) => x * 17)], i.map((x) => x * 0.01))[0]).toBeCloseTo(base, 12);
    expect(clipSimilarity([t], t)[0]).toBeCloseTo(1, 12);
    expect(clipSimilarity([t.map((x) => -x)], t)[0]).toBeCloseTo(-1, 12);
    expect(Math.abs(base)).toBeLessThanOrEqual(1);
  });

  it('gives 0 for a zero vector and refuses vectors of different lengths', () => {
    expect(clipSimilarity([[0, 0]], [1, 2])).toEqual([0]);
    expect(clipSimilarity([[1, 2]], [0, 0])).toEqual([0]);
    expect(() => clipSimilarity([[1, 2, 3]], [1, 2])).toThrow(/text embedding 0 has 3 values but the image embedding has 2/);
  });
});
