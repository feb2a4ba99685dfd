import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../../tests/setup/testBackend';
import { gatherRows } from './gatherRows';

beforeAll(useTestBackend);

describe('gatherRows', () => {
  // Repeated ids, an unused row, a 1-D table and a 2-D one: the cases a gradient of a lookup has to get right.
  const ids = Int32Array.from([2, 0, 2, 2, 4]);

  it('gives tf.gather’s values, and a gradient that adds dy’s rows at their ids (repeats summed, unused rows 0)', async () => {
    const table = tf.tensor2d(Array.from({ length: 6 * 3 }, (_, i) => Math.sin(i + 1)), [6, 3]);
    const dy = tf.tensor2d(Array.from({ length: 5 * 3 }, (_, i) => i + 1), [5, 3]);
    expect(await gatherRows(table, ids).data()).toEqual(await tf.gather(table, tf.tensor1d(ids, 'int32')).data());
    const grad = await tf.grad((x: tf.Tensor) => gatherRows(x, ids))(table, dy).data();
    const dyRows = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [13, 14, 15]];
    const expected = Array.from({ length: 6 }, (_, row) => [0, 1, 2].map((c) => dyRows.reduce((s, r, k) => s + (ids[k] === row ? r[c] : 0), 0))).flat();
    expect(Array.from(grad)).toEqual(expected);
  });

  it('works on a 1-D table', async () => {
    const table = tf.tensor1d([0.5, -1, 2, 3, 7]);
    expect(Array.from(await gatherRows(table, ids).data())).toEqual([2, 0.5, 2, 2, 7]);
    const grad = await tf.grad((x: tf.Tensor) => gatherRows(x, ids))(table, tf.tensor1d([1, 10, 100, 1000, 10000])).data();
    expect(Array.from(grad)).toEqual([10, 0, 1101, 0, 10000]);
  });
});
