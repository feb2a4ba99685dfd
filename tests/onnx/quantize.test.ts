/**
 * scripts/onnx/quantize.ts against hand-computed values, and the quantized graphs of builder.ts run by
 * onnxruntime-node against the same products computed here from the quantized numbers.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, transpose2d, type WeightFormat } from '../../scripts/onnx/builder';
import { buildIdefics3Onnx, randomIdefics3Weights, Q4_BLOCK_SIZE, type Idefics3Config, type WeightMap } from '../../scripts/onnx/idefics3';
import {
  dequantizeBlocks4,
  dequantizeLinear8,
  quantizeBlocks4,
  quantizeLinear8,
  roundHalfAway,
  roundHalfEven,
  type Blocks4,
} from '../../scripts/onnx/quantize';
import { Prng } from '../../src/models/prng';
import { bool, f32, floats, i64, session, uniform } from './helpers';
import { idefics3ImageFeaturesRef, llamaRef, maxAbsDiff } from './reference';

describe('rounding', () => {
  it('numpy rounds halves to even, C roundf away from zero', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6].map(roundHalfAway)).toEqual([1, 2, 3, -1, -2, 2, -3]);
  });
});

describe('quantizeLinear8 (onnxruntime per-tensor)', () => {
  it('int8 is symmetric over ±127 with zero point 0, halves to even', () => {
    const q = quantizeLinear8(Float32Array.from([-127, 63.5, 0.5, 1.5, 0, 2.5]), 'int8');
    expect(q.scale).toBe(1);
    expect(q.zeroPoint).toBe(0);
    expect(Array.from(q.data)).toEqual([-127, 64, 0, 2, 0, 2]);
    expect(q.data).toBeInstanceOf(Int8Array);
  });

  it('int8 scale is the largest magnitude over 127', () => {
    const q = quantizeLinear8(Float32Array.from([0.25, -2.54, 1.27]), 'int8');
    expect(q.scale).toBe(Math.fround(2.54 * 2 / 254));
    // In float32, 0.25 / 0.02 = 12.5 and 1.27 / 0.02 = 63.5: both halves go to the even neighbour.
    expect(Array.from(q.data)).toEqual([12, -127, 64]);
  });

  it('uint8 is asymmetric over [0, 255], the range widened to hold 0', () => {
    const q = quantizeLinear8(Float32Array.from([-128, 127, 0.5, 1.5, -0.5]), 'uint8');
    expect(q.scale).toBe(1);
    expect(q.zeroPoint).toBe(128);
    expect(Array.from(q.data)).toEqual([0, 255, 128, 130, 128]);
    const positive = quantizeLinear8(Float32Array.from([1, 255, 17]), 'uint8');
    expect([positive.scale, positive.zeroPoint]).toEqual([1, 0]);
    expect(Array.from(positive.data)).toEqual([1, 255, 17]);
  });

  it('an all-zero tensor gets scale 1, and a non-finite weight is refused', () => {
    const q = quantizeLinear8(new Float32Array(4), 'uint8');
    expect([q.scale, q.zeroPoint, ...q.data]).toEqual([1, 0, 0, 0, 0, 0]);
    expect(() => quantizeLinear8(Float32Array.from([1, NaN]), 'int8')).toThrow(/NaN/);
  });

  it('round-trips within half a step', () => {
    const w = new Prng(5).normals(1000, 0.02);
    for (const type of ['int8', 'uint8'] as const) {
      const q = quantizeLinear8(w, type);
      const back = dequantizeLinear8(q);
      for (let i = 0; i < w.length; i++) expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(q.scale * 0.5 + 1e-9);
    }
  });
});

/** One column of K values (N = 1). */
function column(values: number[], K: number): Float32Array {
  const w = new Float32Array(K);
  w.set(values);
  return w;
}

describe('quantizeBlocks4 (MatMulNBits, symmetric)', () => {
  it('scales by the largest magnitude over −8, rounds halves away from zero, packs the even k low', () => {
    const q = quantizeBlocks4(column([1, -0.5, 0.25, 0, 0.3, 0.1875], 32), 32, 1, 32);
    expect(q.blocks).toBe(1);
    expect(Array.from(q.scales)).toEqual([-0.125]);
    // codes: 1 → 0, −0.5 → 12, 0.25 → 6, 0 → 8, 0.3 → round(5.6) = 6, 0.1875 → round(6.5) = 7, then 8s
    expect(Array.from(q.packed)).toEqual([0xc0, 0x86, 0x76, ...new Array(13).fill(0x88)]);
    expect(Array.from(dequantizeBlocks4(q).subarray(0, 7), (v) => v + 0)).toEqual([1, -0.5, 0.25, 0, 0.25, 0.125, 0]);
  });

  it('a negative extreme gives a positive scale; an all-zero block codes 8', () => {
    const K = 32;
    const w = new Float32Array(K * 2);
    // column 0: [-1, 0.5, 0, …]; column 1: zeros
    w[0] = -1;
    w[2] = 0.5;
    const q = quantizeBlocks4(w, K, 2, 32);
    expect(Array.from(q.scales)).toEqual([0.125, -0]);
    expect(q.packed[0]).toBe(0 | (12 << 4));
    expect(Array.from(q.packed.subarray(16))).toEqual(new Array(16).fill(0x88));
    expect(Array.from(dequantizeBlocks4(q), (v) => v + 0)).toEqual(Array.from(w));
  });

  it('lays blocks out [N, K / block, block / 2] with one scale per column and block', () => {
    const K = 64;
    const N = 2;
    const w = new Float32Array(K * N);
    w[33 * N + 0] = 2; // column 0, block 1, second value of its first byte
    w[5 * N + 1] = -4; // column 1, block 0
    const q = quantizeBlocks4(w, K, N, 32);
    expect(q.packed.length).toBe(N * 2 * 16);
    // scales[n · blocks + b]; an all-zero block gets 0 / −8 = −0
    expect(Array.from(q.scales)).toEqual([-0, -0.25, 0.5, -0]);
    expect(q.packed[(0 * 2 + 1) * 16 + 0]).toBe(8 | (0 << 4)); // column 0: k = 32 → 8 (low), k = 33 → 0 (high)
    expect(q.packed[(1 * 2 + 0) * 16 + 2]).toBe(8 | (0 << 4)); // column 1: k = 4 → 8 (low), k = 5 → 0 (high)
  });

  it('a last, partial block: the zero point beside an odd K, nothing past it', () => {
    const K = 35;
    const w = column([], K);
    w[32] = 1;
    w[33] = -1;
    w[34] = 0.5;
    const q = quantizeBlocks4(w, K, 1, 32);
    expect(q.blocks).toBe(2);
    // |1| is not above |−1|, so the extreme is −1 and the scale +0.125: 1 → 16, clamped to 15; −1 → 0; 0.5 → 12
    expect(q.scales[1]).toBe(0.125);
    // the fourth nibble is the zero point; the rest of the block is left 0
    expect(Array.from(q.packed.subarray(16))).toEqual([15 | (0 << 4), 12 | (8 << 4), ...new Array(14).fill(0)]);
    expect(Array.from(dequantizeBlocks4(q).subarray(32))).toEqual([0.875, -1, 0.5]);
  });

  it('round-trips within half a step (a step where code 15 clips the far side), each block extreme exactly', () => {
    const K = 96;
    const N = 5;
    const w = new Prng(9).normals(K * N, 0.02);
    const q = quantizeBlocks4(w, K, N, 32);
    const back = dequantizeBlocks4(q);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < 3; b++) {
        const s = Math.abs(q.scales[n * 3 + b]);
        let extreme = 0;
        for (let k = b * 32; k < (b + 1) * 32; k++) {
          // Codes run −8…7 steps from the extreme's side: the other side holds only 7.5 steps before it clips.
          const clipped = Math.sign(w[k * N + n]) !== Math.sign(-q.scales[n * 3 + b]) && Math.abs(w[k * N + n]) > 7.5 * s;
          expect(Math.abs(back[k * N + n] - w[k * N + n])).toBeLessThanOrEqual(s * (clipped ? 1 : 0.5) + 1e-9);
          if (Math.abs(w[k * N + n]) > Math.abs(extreme)) extreme = w[k * N + n];
        }
        expect(Math.abs(extreme / -8 - q.scales[n * 3 + b])).toBeLessThan(1e-9);
      }
    }
    expect(() => quantizeBlocks4(w, K, N, 31)).toThrow(/not even/);
  });
});

/** x [M, K] · B [K, N] in float64. */
function matmul64(x: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) y[m * N + n] += x[m * K + k] * b[k * N + n];
  return y;
}

/** ONNX DynamicQuantizeLinear: uint8 over the range of x widened to hold 0. */
function dynamicQuantize(x: Float32Array): { q: number[]; scale: number; zp: number } {
  const lo = Math.min(0, ...x);
  const hi = Math.max(0, ...x);
  const scale = Math.fround((hi - lo) / 255);
  const zp = Math.min(255, Math.max(0, roundHalfEven(-lo / scale)));
  return { q: Array.from(x, (v) => Math.min(255, Math.max(0, roundHalfEven(v / scale) + zp))), scale, zp };
}

async function runLinear(format: WeightFormat, w: Float32Array, bias: Float32Array, x: Float32Array, M: number, K: number, N: number): Promise<Float32Array> {
  const g = new GraphBuilder('linear', format);
  const input = g.input('x', 'float32', [M, K]);
  // A PyTorch Linear weight is [out, in]: w is given as B [K, N], so hand over its transpose.
  const wOutIn = new Float32Array(N * K);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) wOutIn[n * K + k] = w[k * N + n];
  g.output(g.linear(input, 'layer.weight', { shape: [N, K], data: wOutIn }, { name: 'layer.bias', t: { shape: [N], data: bias } }), 'y', 'float32', [M, N]);
  const s = await session(g.build());
  const out = await s.run({ x: f32(x, [M, K]) });
  await s.release();
  return floats(out.y as never);
}

describe('quantized graphs in onnxruntime-node', () => {
  const M = 3;
  // K = 2.5 blocks of 32: MatMulNBits reads a last, partial block.
  const K = 80;
  const N = 24;
  const rng = new Prng(11);
  const w = rng.normals(K * N, 0.05);
  const bias = rng.normals(N, 0.1);
  const x = rng.normals(M * K, 1);

  it('q4: MatMulNBits multiplies by exactly the dequantized blocks', async () => {
    const y = await runLinear({ kind: 'q4', blockSize: 32 }, w, bias, x, M, K, N);
    const q: Blocks4 = quantizeBlocks4(w, K, N, 32);
    const expected = matmul64(x, dequantizeBlocks4(q), M, K, N).map((v, i) => v + bias[i % N]);
    for (let i = 0; i < y.length; i++) expect(Math.abs(y[i] - expected[i])).toBeLessThan(1e-5);
    // …which is not the float product.
    const exact = matmul64(x, w, M, K, N).map((v, i) => v + bias[i % N]);
    expect(Math.max(...Array.from(y, (v, i) => Math.abs(v - exact[i])))).toBeGreaterThan(1e-3);
  });

  for (const weightType of ['int8', 'uint8'] as const) {
    it(`q8 (${weightType} weights): MatMulInteger of the run-time uint8 activations and the stored codes, rescaled`, async () => {
      const y = await runLinear({ kind: 'q8', weightType }, w, bias, x, M, K, N);
      const qw = quantizeLinear8(w, weightType);
      const expected = new Float64Array(M * N);
      // DynamicQuantizeLinear quantizes the whole input tensor at once.
      const qx = dynamicQuantize(x);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += (qx.q[m * K + k] - qx.zp) * (qw.data[k * N + n] - qw.zeroPoint);
          expected[m * N + n] = acc * qx.scale * qw.scale + bias[n];
        }
      }
      for (let i = 0; i < y.length; i++) expect(Math.abs(y[i] - expected[i])).toBeLessThan(1e-5);
    });
  }

  it('q8 Gather: uint8 rows dequantized; q4 and fp32 keep the float table', async () => {
    const table = rng.normals(10 * 4, 0.3);
    const ids = [3, 0, 9];
    for (const format of [{ kind: 'q8', weightType: 'int8' }, { kind: 'q4', blockSize: 32 }] as WeightFormat[]) {
      const g = new GraphBuilder('gather', format);
      const input = g.input('ids', 'int64', [3]);
      g.output(g.gatherRows('table', { shape: [10, 4], data: table }, input), 'rows', 'float32', [3, 4]);
      const s = await session(g.build());
      const rows = floats((await s.run({ ids: i64(ids, [3]) })).rows as never);
      await s.release();
      const source = format.kind === 'q8' ? dequantizeLinear8(quantizeLinear8(table, 'uint8')) : table;
      const expected = ids.flatMap((id) => Array.from(source.subarray(id * 4, id * 4 + 4)));
      for (let i = 0; i < rows.length; i++) expect(Math.abs(rows[i] - expected[i])).toBeLessThan(1e-7);
    }
  });

  it('q8 Conv: ConvInteger with the bias added after the rescale', async () => {
    const [D, C, P, S] = [3, 2, 2, 4];
    const weight = rng.normals(D * C * P * P, 0.2);
    const b = rng.normals(D, 0.1);
    const img = rng.normals(C * S * S, 1);
    const g = new GraphBuilder('conv', { kind: 'q8', weightType: 'uint8' });
    const input = g.input('img', 'float32', [1, C, S, S]);
    g.output(g.conv(input, 'conv.weight', { shape: [D, C, P, P], data: weight }, 'conv.bias', b, { kernel_shape: [P, P], strides: [P, P] }), 'y', 'float32', [1, D, S / P, S / P]);
    const s = await session(g.build());
    const y = floats((await s.run({ img: f32(img, [1, C, S, S]) })).y as never);
    await s.release();
    const qw = quantizeLinear8(weight, 'uint8');
    const qx = dynamicQuantize(img);
    const side = S / P;
    for (let d = 0; d < D; d++) {
      for (let i = 0; i < side; i++) {
        for (let j = 0; j < side; j++) {
          let acc = 0;
          for (let c = 0; c < C; c++) {
            for (let u = 0; u < P; u++) {
              for (let v = 0; v < P; v++) {
                const xi = (c * S + i * P + u) * S + j * P + v;
                acc += (qx.q[xi] - qx.zp) * (qw.data[((d * C + c) * P + u) * P + v] - qw.zeroPoint);
              }
            }
          }
          expect(Math.abs(y[(d * side + i) * side + j] - (acc * qx.scale * qw.scale + b[d]))).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('refuses a MatMulNBits block size that is not a power of 2 of at least 16', () => {
    const g = new GraphBuilder('bad', { kind: 'q4', blockSize: 24 });
    const input = g.input('x', 'float32', [1, 48]);
    expect(() => g.linear(input, 'w', { shape: [2, 48], data: new Float32Array(96) })).toThrow(/block size 24/);
  });
});

describe('q4 SmolVLM sessions against the float64 references on the dequantized weights', () => {
  // K of 48 and 96: MatMulNBits' partial blocks inside a whole model.
  const config: Idefics3Config = {
    scale_factor: 2,
    vision_config: { hidden_size: 32, intermediate_size: 48, num_attention_heads: 4, num_hidden_layers: 2, image_size: 32, patch_size: 8 },
    text_config: { hidden_size: 64, intermediate_size: 96, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, vocab_size: 300, rms_norm_eps: 1e-5 },
  };
  const weights = randomIdefics3Weights(config, 21);
  const files = buildIdefics3Onnx(config, weights, ['q4']);

  /** Every Linear weight [out, in] as MatMulNBits sees it: quantized as B = Wᵀ [in, out], dequantized, transposed back. */
  function dequantized(): WeightMap {
    const out: WeightMap = new Map(weights);
    for (const [name, t] of weights) {
      if (!/(_proj|fc1|fc2|lm_head|modality_projection\.proj)\.weight$/.test(name)) continue;
      const [o, i] = t.shape;
      const q = quantizeBlocks4(transpose2d(t.data, o, i), i, o, Q4_BLOCK_SIZE);
      out.set(name, { shape: t.shape, data: transpose2d(dequantizeBlocks4(q), i, o) });
    }
    return out;
  }

  it('decoder_model_merged_q4: logits of the Llama reference', async () => {
    const T = 5;
    const embeds = new Prng(22).normals(T * 64, 1);
    const ones = new Array(T).fill(1);
    const positions = [...Array(T).keys()];
    const s = await session(files['onnx/decoder_model_merged_q4.onnx']);
    const past: Record<string, ReturnType<typeof f32>> = {};
    for (let l = 0; l < 2; l++) for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = f32([], [1, 2, 0, 16]);
    const out = await s.run({ inputs_embeds: f32(embeds, [1, T, 64]), attention_mask: i64(ones, [1, T]), position_ids: i64(positions, [1, T]), ...past });
    await s.release();
    const logits = floats(out.logits as never);
    const ref = llamaRef(config, dequantized(), Float64Array.from(embeds), 1, T, ones, positions);
    expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(1e-4);
    // …and not those of the float weights.
    expect(maxAbsDiff(logits, llamaRef(config, weights, Float64Array.from(embeds), 1, T, ones, positions).logits)).toBeGreaterThan(1e-3);
  });

  it('vision_encoder_q4: image features of the SigLIP + connector reference (the Conv in float)', async () => {
    const S = 32;
    const pv = uniform(new Prng(23), 3 * S * S);
    const s = await session(files['onnx/vision_encoder_q4.onnx']);
    const out = await s.run({ pixel_values: f32(pv, [1, 1, 3, S, S]), pixel_attention_mask: bool(new Array(S * S).fill(1), [1, 1, S, S]) });
    await s.release();
    const [ref] = idefics3ImageFeaturesRef(config, dequantized(), pv, 1);
    expect(maxAbsDiff(floats(out.image_features as never), ref)).toBeLessThan(1e-4);
  });
});
