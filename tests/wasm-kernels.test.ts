/** Our WASM kernels (src/tf/wasmKernels.ts) against the CPU backend's and their own bookkeeping. */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeBackend } from '../scripts/lib/nodeBackend';

beforeAll(async () => {
  await startNodeBackend('wasm');
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

  it('BatchMatMul with either operand transposed equals the CPU backend, batched and broadcast, and frees its transposes', async () => {
    const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
      { a: [5, 7], b: [3, 7], ta: false, tb: true },
      { a: [7, 5], b: [7, 3], ta: true, tb: false },
      { a: [7, 5], b: [3, 7], ta: true, tb: true },
      { a: [4, 6, 8], b: [4, 9, 8], ta: false, tb: true },
      { a: [4, 8, 6], b: [1, 8, 9], ta: true, tb: false },
      { a: [2, 3, 6, 8], b: [2, 3, 9, 8], ta: false, tb: true },
    ];
    const run = async (backend: 'cpu' | 'wasm') => {
      await startNodeBackend(backend);
      return Promise.all(
        cases.map(async ({ a, b, ta, tb }, i) => {
          const x = tf.randomNormal(a, 0, 1, 'float32', 10 + i);
          const y = tf.randomNormal(b, 0, 1, 'float32', 20 + i);
          const before = tf.memory().numTensors;
          const wasmIds = backend === 'wasm' ? (tf.backend() as BackendWasm).numDataIds() : 0;
          const out = tf.matMul(x, y, ta, tb);
          expect(tf.memory().numTensors).toBe(before + 1);
          if (backend === 'wasm') expect((tf.backend() as BackendWasm).numDataIds()).toBe(wasmIds + 1);
          const values = { shape: out.shape, data: Array.from(await out.data()) };
          tf.dispose([x, y, out]);
          return values;
        }),
      );
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    wasm.forEach((got, i) => {
      expect(got.shape).toEqual(cpu[i].shape);
      got.data.forEach((v, k) => expect(Math.abs(v - cpu[i].data[k])).toBeLessThan(1e-4));
    });
  });
});
