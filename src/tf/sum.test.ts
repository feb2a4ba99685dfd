import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../tests/setup/testBackend';
import { sumTensors } from './sum';

beforeAll(useTestBackend);

describe('sumTensors', () => {
  it('sums many scalars and matrices exactly as plain numbers do', async () => {
    for (const n of [1, 2, 5, 40, 420]) {
      const values = Array.from({ length: n }, (_, i) => (i % 7) - 2.5 + i / 1000);
      const scalars = values.map((v) => tf.scalar(v));
      const total = sumTensors(scalars);
      expect((await total.data())[0]).toBeCloseTo(values.reduce((a, b) => a + b, 0), 3);
      const mats = values.slice(0, 12).map((v) => tf.fill([3, 2], v));
      const m = sumTensors(mats);
      const expected = values.slice(0, 12).reduce((a, b) => a + b, 0);
      for (const x of await m.data()) expect(x).toBeCloseTo(expected, 4);
      tf.dispose([...scalars, total, ...mats, m]);
    }
  });

  it('leaves no tensors behind', () => {
    const parts = [tf.scalar(1), tf.scalar(2), tf.scalar(3)];
    const before = tf.memory().numTensors;
    const total = sumTensors(parts);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([...parts, total]);
  });
});
