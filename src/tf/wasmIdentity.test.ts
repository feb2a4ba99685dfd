/** The WASM Identity of wasmIdentity.ts: a clone shares its input's data, and the reference count keeps it right. */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../scripts/lib/nodeBackend';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

describe('Identity on WASM', () => {
  it('a clone adds no data, and outlives the tensor it was cloned from', async () => {
    const backend = tf.backend() as BackendWasm;
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const before = backend.numDataIds();
    const y = x.clone();
    expect(backend.numDataIds()).toBe(before);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(backend.numDataIds()).toBe(before);
    y.dispose();
    expect(backend.numDataIds()).toBe(before - 1);
  });

  it('the inputs a gradient saves are not copied: the data buffers while the tape is on are the forward\'s own', () => {
    const backend = tf.backend() as BackendWasm;
    const w = tf.randomNormal([64, 64], 0, 1, 'float32', 3);
    const x = tf.randomNormal([8, 64], 0, 1, 'float32', 4);
    const before = backend.numDataIds();
    let during = 0;
    const g = tf.grad((v: tf.Tensor) => {
      const y = tf.matMul(x, v, false, true); // saves x and v for its gradient
      during = backend.numDataIds();
      return y.sum();
    })(w);
    // y is the only new buffer: on tfjs-backend-wasm's own Identity the saved x and v were two more.
    expect(during - before).toBe(1);
    const expected = tf.matMul(tf.ones([64, 8]), x); // d(sum(x·vᵀ))/dv = 1ᵀ·x
    expect(tf.max(tf.abs(tf.sub(g, expected))).arraySync()).toBeLessThan(1e-5);
    tf.dispose([w, x, g, expected]);
  });
});
