/**
 * Weight quantization of our ONNX exports, as the Hub's transformers.js-ready checkpoints have it. Those come from
 * transformers.js' scripts/quantize.py over onnxruntime's quantizers; the numbers here follow onnxruntime's:
 *
 * - q8 (`*_quantized.onnx`, `quantize_dynamic` in IntegerOps mode): one scale and zero point per tensor,
 *   `q = clamp(round_half_even(w / scale) + zero_point)`. int8 weights are symmetric (range ±127, zero point 0),
 *   uint8 ones asymmetric over [0, 255] with the range widened to hold 0 (quant_utils.compute_scale_zp).
 * - q4 (`*_q4.onnx`, MatMul4BitsQuantizer, symmetric, as quantize.py runs it): the weight B [K, N] of a MatMul in
 *   blocks of `blockSize` along K, one float scale per block and column, the implicit zero point 8 of
 *   com.microsoft MatMulNBits. MLAS's rule: the scale is the value of largest magnitude (with its sign) over −8, so
 *   that value lands exactly on the code 0, and `q = clamp(roundf(w · (1/scale) + 8), 0, 15)` in float32.
 *   Packed as MatMulNBits reads B: uint8 [N, blocks, blockSize / 2], two codes a byte, the even k in the low nibble.
 *
 * Pure functions over typed arrays: scripts/onnx/builder.ts puts their output into graphs.
 */

export type Int8Type = 'int8' | 'uint8';

export interface Linear8 {
  type: Int8Type;
  data: Int8Array | Uint8Array;
  scale: number;
  zeroPoint: number;
}

/** numpy's `round`: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** C's `roundf`: halves go away from zero. */
export function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

const RANGE: Record<Int8Type, { qmin: number; qmax: number; symmetric: boolean }> = {
  int8: { qmin: -127, qmax: 127, symmetric: true },
  uint8: { qmin: 0, qmax: 255, symmetric: false },
};

/** Per-tensor 8-bit quantization of `values` (onnxruntime's quantize_initializer, per_channel off, reduce_range off). */
export function quantizeLinear8(values: Float32Array, type: Int8Type): Linear8 {
  const { qmin, qmax, symmetric } = RANGE[type];
  let rmin = 0;
  let rmax = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new Error(`quantizeLinear8: a weight is ${v}`);
    if (v < rmin) rmin = v;
    if (v > rmax) rmax = v;
  }
  if (symmetric) {
    const absmax = Math.max(-rmin, rmax);
    rmin = -absmax;
    rmax = absmax;
  }
  let scale = Math.fround((rmax - rmin) / (qmax - qmin));
  let zeroPoint = 0;
  // An all-zero tensor: onnxruntime takes scale 1 (anything below float32's smallest normal).
  if (scale < 1.1754943508222875e-38) scale = 1;
  else zeroPoint = roundHalfEven(Math.fround(qmin - Math.fround(rmin / scale)));
  const data = type === 'int8' ? new Int8Array(values.length) : new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    data[i] = Math.min(qmax, Math.max(qmin, roundHalfEven(Math.fround(values[i] / scale)) + zeroPoint));
  }
  return { type, data, scale, zeroPoint };
}

export function dequantizeLinear8(q: Linear8): Float32Array {
  return Float32Array.from(q.data, (v) => (v - q.zeroPoint) * q.scale);
}

/** A [K, N] weight as com.microsoft MatMulNBits takes it, 4 bits a value. */
export interface Blocks4 {
  K: number;
  N: number;
  blockSize: number;
  /** Blocks along K in each column: ceil(K / blockSize). */
  blocks: number;
  /** uint8 [N, blocks, blockSize / 2]. */
  packed: Uint8Array;
  /** float32 [N · blocks], column by column. */
  scales: Float32Array;
}

/** The zero point MatMulNBits assumes when none is given: 2^(bits − 1). */
export const Q4_ZERO_POINT = 8;

/** Symmetric blockwise 4-bit quantization of `w`, row-major [K, N] (a MatMul's B). */
export function quantizeBlocks4(w: Float32Array, K: number, N: number, blockSize: number): Blocks4 {
  if (w.length !== K * N) throw new Error(`quantizeBlocks4: ${w.length} values for [${K}, ${N}]`);
  if (blockSize < 2 || blockSize % 2 !== 0) throw new Error(`quantizeBlocks4: block size ${blockSize} is not even`);
  const blocks = Math.ceil(K / blockSize);
  const half = blockSize / 2;
  const packed = new Uint8Array(N * blocks * half);
  const scales = new Float32Array(N * blocks);
  const codes = new Uint8Array(blockSize);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      let min = Infinity;
      let max = -Infinity;
      for (let k = k0; k < k1; k++) {
        const v = w[k * N + n];
        if (!Number.isFinite(v)) throw new Error(`quantizeBlocks4: weight [${k}, ${n}] is ${v}`);
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const extreme = Math.abs(max) > Math.abs(min) ? max : min;
      const scale = Math.fround(extreme / -Q4_ZERO_POINT);
      scales[n * blocks + b] = scale;
      const reciprocal = scale === 0 ? 0 : Math.fround(1 / scale);
      for (let k = k0; k < k1; k++) {
        const x = Math.fround(Math.fround(w[k * N + n] * reciprocal) + Q4_ZERO_POINT);
        codes[k - k0] = Math.min(15, Math.max(0, roundHalfAway(x)));
      }
      // Past K (a last, partial block) MLAS writes the zero point into a byte it shares with k < K, else nothing.
      if ((k1 - k0) % 2 === 1) codes[k1 - k0] = Q4_ZERO_POINT;
      const at = (n * blocks + b) * half;
      for (let i = 0; 2 * i < k1 - k0; i++) packed[at + i] = codes[2 * i] | (codes[2 * i + 1] << 4);
    }
  }
  return { K, N, blockSize, blocks, packed, scales };
}

/** The float32 [K, N] matrix MatMulNBits multiplies by: (code − 8) · scale. */
export function dequantizeBlocks4(q: Blocks4): Float32Array {
  const { K, N, blockSize, blocks, packed, scales } = q;
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize);
      const byte = packed[(n * blocks + b) * (blockSize / 2) + Math.floor((k % blockSize) / 2)];
      const code = k % 2 === 0 ? byte & 0x0f : byte >> 4;
      out[k * N + n] = Math.fround((code - Q4_ZERO_POINT) * scales[n * blocks + b]);
    }
  }
  return out;
}
