import * as ort from 'onnxruntime-node';
import { Prng } from '../../src/models/prng';

export { ort };

export function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1 });
}

export function f32(data: ArrayLike<number>, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), dims);
}

export function i64(data: ArrayLike<number>, dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(Array.from(data, (v) => BigInt(v))), dims);
}

export function bool(data: ArrayLike<number>, dims: number[]): ort.Tensor {
  return new ort.Tensor('bool', Uint8Array.from(data), dims);
}

export function floats(t: ort.Tensor): Float32Array {
  return t.data as Float32Array;
}

export function uniform(rng: Prng, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}

/** Hugging Face / transformers.js position ids: cumsum(mask) - 1, masked positions set to 1. */
export function positionIdsFromMask(mask: number[], B: number, L: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let sum = 0;
    for (let j = 0; j < L; j++) {
      const m = mask[b * L + j];
      out.push(m === 0 ? 1 : sum);
      sum += m;
    }
  }
  return out;
}

/** Rows [r0, r1) of the middle axis of a [B, T, E] array for batch element b. */
export function sliceBT(data: ArrayLike<number>, T: number, E: number, b: number, r0: number, r1: number): number[] {
  const out: number[] = [];
  for (let t = r0; t < r1; t++) for (let e = 0; e < E; e++) out.push(data[(b * T + t) * E + e]);
  return out;
}
