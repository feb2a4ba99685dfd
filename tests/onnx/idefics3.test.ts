import { beforeAll, describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { buildIdefics3Onnx, idefics3WeightShapes, randomIdefics3Weights, type Idefics3Config } from '../../scripts/onnx/idefics3';
import { Prng } from '../../src/models/prng';
import { bool, f32, floats, i64, ort, positionIdsFromMask, session, sliceBT, uniform } from './helpers';
import { idefics3ImageFeaturesRef, llamaRef, maxAbsDiff } from './reference';

const TOL = 1e-4;

const config: Idefics3Config = {
  scale_factor: 2,
  vision_config: {
    hidden_size: 32,
    intermediate_size: 48,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    image_size: 32,
    patch_size: 8,
    layer_norm_eps: 1e-6,
    hidden_act: 'gelu_pytorch_tanh',
  },
  text_config: {
    hidden_size: 64,
    intermediate_size: 96,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
    vocab_size: 300,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    hidden_act: 'silu',
  },
};
const D = 64;
const KV = 2;
const HD = 16;
const V = 300;
const LAYERS = 2;
const S = 32;
const IMAGE_SEQ = 4; // (32/8)^2 / 2^2
const weights = randomIdefics3Weights(config, 7);

let vision: ort.InferenceSession;
let embed: ort.InferenceSession;
let decoder: ort.InferenceSession;
let files: ReturnType<typeof buildIdefics3Onnx>;

beforeAll(async () => {
  files = buildIdefics3Onnx(config, weights, ['fp32']);
  vision = await session(files['onnx/vision_encoder.onnx']);
  embed = await session(files['onnx/embed_tokens.onnx']);
  decoder = await session(files['onnx/decoder_model_merged.onnx']);
});

type Past = Record<string, ort.Tensor>;

function emptyPast(B: number): Past {
  const past: Past = {};
  for (let i = 0; i < LAYERS; i++) {
    past[`past_key_values.${i}.key`] = f32([], [B, KV, 0, HD]);
    past[`past_key_values.${i}.value`] = f32([], [B, KV, 0, HD]);
  }
  return past;
}

function presentAsPast(out: ort.InferenceSession.OnnxValueMapType): Past {
  const past: Past = {};
  for (let i = 0; i < LAYERS; i++) {
    past[`past_key_values.${i}.key`] = out[`present.${i}.key`] as ort.Tensor;
    past[`past_key_values.${i}.value`] = out[`present.${i}.value`] as ort.Tensor;
  }
  return past;
}

async function runDecoder(embeds: ArrayLike<number>, B: number, T: number, mask: number[], positions: number[], past?: Past) {
  const L = mask.length / B;
  return decoder.run({
    inputs_embeds: f32(embeds, [B, T, D]),
    attention_mask: i64(mask, [B, L]),
    position_ids: i64(positions, [B, T]),
    ...(past ?? emptyPast(B)),
  });
}

function randomEmbeds(seed: number, n: number): Float32Array {
  return new Prng(seed).normals(n, 1);
}

describe('Idefics3 ONNX: file interface (what transformers.js feeds and reads)', () => {
  it('declares the session input and output names of the published SmolVLM export', () => {
    expect(Object.keys(files).sort()).toEqual(['onnx/decoder_model_merged.onnx', 'onnx/embed_tokens.onnx', 'onnx/vision_encoder.onnx']);
    expect(vision.inputNames).toEqual(['pixel_values', 'pixel_attention_mask']);
    expect(vision.outputNames).toEqual(['image_features']);
    expect(embed.inputNames).toEqual(['input_ids']);
    expect(embed.outputNames).toEqual(['inputs_embeds']);
    const past = [0, 1].flatMap((i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]);
    expect(decoder.inputNames).toEqual(['inputs_embeds', 'attention_mask', 'position_ids', ...past]);
    expect(decoder.outputNames).toEqual(['logits', ...past.map((n) => n.replace('past_key_values', 'present'))]);
  });

  it('writes every session in fp32, q8 and q4 under the Hub names, with the same inputs and outputs', async () => {
    const all = buildIdefics3Onnx(config, weights);
    const sessions = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];
    expect(Object.keys(all).sort()).toEqual(sessions.flatMap((s) => ['', '_quantized', '_q4'].map((q) => `onnx/${s}${q}.onnx`)).sort());
    for (const [s, fp32] of [
      ['vision_encoder', vision],
      ['embed_tokens', embed],
      ['decoder_model_merged', decoder],
    ] as const) {
      for (const q of ['_quantized', '_q4']) {
        const other = await session(all[`onnx/${s}${q}.onnx`]);
        expect(other.inputNames, `${s}${q}`).toEqual(fp32.inputNames);
        expect(other.outputNames, `${s}${q}`).toEqual(fp32.outputNames);
        await other.release();
      }
    }
    expect(all['onnx/decoder_model_merged.onnx']).toEqual(files['onnx/decoder_model_merged.onnx']);
  });

  it('declares past_key_values shapes that resolve to an empty cache with batch_size alone', () => {
    // transformers.js addPastKeyValues() maps 'batch_size' to the batch and every other symbolic dim to 0.
    const meta = decoder.inputMetadata.find((m) => m.name === 'past_key_values.1.value');
    expect(meta && meta.isTensor ? meta.shape : null).toEqual(['batch_size', KV, 'past_sequence_length', HD]);
    const ids = decoder.inputMetadata.find((m) => m.name === 'attention_mask');
    expect(ids && ids.isTensor ? ids.type : null).toBe('int64');
  });

  it('writes opset 17 models whose initializers carry the Hugging Face weight names', () => {
    const { onnx } = onnxProto;
    const m = onnx.ModelProto.decode(files['onnx/decoder_model_merged.onnx']);
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    const names = new Set((m.graph?.initializer ?? []).map((t) => t.name));
    expect(names.has('model.text_model.layers.1.self_attn.k_proj.weight')).toBe(true);
    expect(names.has('lm_head.weight')).toBe(true);
    const v = onnx.ModelProto.decode(files['onnx/vision_encoder.onnx']);
    const vnames = new Set((v.graph?.initializer ?? []).map((t) => t.name));
    expect(vnames.has('model.connector.modality_projection.proj.weight')).toBe(true);
    expect(vnames.has('model.vision_model.encoder.layers.0.mlp.fc1.weight')).toBe(true);
  });

  it('rejects a weight map with a missing or mis-shaped tensor', () => {
    const missing = new Map(weights);
    missing.delete('model.text_model.layers.0.mlp.up_proj.weight');
    expect(() => buildIdefics3Onnx(config, missing)).toThrow(/missing weight model.text_model.layers.0.mlp.up_proj.weight/);
    const bad = new Map(weights);
    bad.set('model.connector.modality_projection.proj.weight', { shape: [64, 32], data: new Float32Array(64 * 32) });
    expect(() => buildIdefics3Onnx(config, bad)).toThrow(/shape/);
    expect(idefics3WeightShapes(config).size).toBe(weights.size);
  });
});

describe('Idefics3 ONNX: embed_tokens', () => {
  it('looks up rows of model.text_model.embed_tokens.weight exactly', async () => {
    const ids = [0, 5, 299, 17, 5, 42];
    const out = await embed.run({ input_ids: i64(ids, [2, 3]) });
    const got = out.inputs_embeds as ort.Tensor;
    expect(got.dims).toEqual([2, 3, D]);
    const table = weights.get('model.text_model.embed_tokens.weight')!.data;
    const want = ids.flatMap((id) => Array.from(table.subarray(id * D, (id + 1) * D)));
    expect(Array.from(floats(got))).toEqual(want);
  });
});

describe('Idefics3 ONNX: vision_encoder', () => {
  const per = 3 * S * S;

  it('matches the float64 SigLIP + pixel-shuffle + projection reference', async () => {
    const pv = uniform(new Prng(11), 2 * per);
    const out = await vision.run({ pixel_values: f32(pv, [1, 2, 3, S, S]), pixel_attention_mask: bool(new Array(2 * S * S).fill(1), [1, 2, S, S]) });
    const got = out.image_features as ort.Tensor;
    expect(got.dims).toEqual([2, IMAGE_SEQ, D]);
    const ref = idefics3ImageFeaturesRef(config, weights, pv, 2);
    const want = [...ref[0], ...ref[1]];
    expect(maxAbsDiff(floats(got), want)).toBeLessThan(TOL);
    // Not trivially small: the check would catch a wrong graph.
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.1);
  });

  it('drops all-zero padding images, as Idefics3Model.get_image_features does', async () => {
    // batch 2 × 2 images; the second image of the second sample is padding.
    const rng = new Prng(12);
    const pv = new Float32Array(4 * per);
    pv.set(uniform(rng, 3 * per), 0);
    const mask = new Array(4 * S * S).fill(1).fill(0, 3 * S * S);
    const out = await vision.run({ pixel_values: f32(pv, [2, 2, 3, S, S]), pixel_attention_mask: bool(mask, [2, 2, S, S]) });
    const got = out.image_features as ort.Tensor;
    expect(got.dims).toEqual([3, IMAGE_SEQ, D]);
    const ref = idefics3ImageFeaturesRef(config, weights, pv, 4);
    expect(ref.length).toBe(3);
    expect(maxAbsDiff(floats(got), ref.flatMap((r) => Array.from(r)))).toBeLessThan(TOL);
  });

  it('keeps the first image when every image is padding', async () => {
    const pv = new Float32Array(2 * per);
    const out = await vision.run({ pixel_values: f32(pv, [1, 2, 3, S, S]), pixel_attention_mask: bool(new Array(2 * S * S).fill(0), [1, 2, S, S]) });
    const got = out.image_features as ort.Tensor;
    expect(got.dims).toEqual([1, IMAGE_SEQ, D]);
    expect(maxAbsDiff(floats(got), idefics3ImageFeaturesRef(config, weights, pv, 2)[0])).toBeLessThan(TOL);
  });
});

describe('Idefics3 ONNX: decoder_model_merged', () => {
  const T = 7;
  const embeds = randomEmbeds(21, T * D);
  const ones = new Array(T).fill(1);
  const positions = [0, 1, 2, 3, 4, 5, 6];

  it('with an empty past matches the float64 Llama reference (logits and present)', async () => {
    const out = await runDecoder(embeds, 1, T, ones, positions);
    const ref = llamaRef(config, weights, Float64Array.from(embeds), 1, T, ones, positions);
    expect((out.logits as ort.Tensor).dims).toEqual([1, T, V]);
    expect(maxAbsDiff(floats(out.logits as ort.Tensor), ref.logits)).toBeLessThan(TOL);
    for (let l = 0; l < LAYERS; l++) {
      expect((out[`present.${l}.key`] as ort.Tensor).dims).toEqual([1, KV, T, HD]);
      expect(maxAbsDiff(floats(out[`present.${l}.key`] as ort.Tensor), ref.keys[l])).toBeLessThan(TOL);
      expect(maxAbsDiff(floats(out[`present.${l}.value`] as ort.Tensor), ref.values[l])).toBeLessThan(TOL);
    }
  });

  it('uses position_ids for RoPE (uneven positions change the logits, like the reference)', async () => {
    // RoPE is relative, so only uneven spacing (not a uniform shift) changes the result.
    const shifted = [0, 2, 3, 5, 8, 9, 13];
    const out = await runDecoder(embeds, 1, T, ones, shifted);
    const ref = llamaRef(config, weights, Float64Array.from(embeds), 1, T, ones, shifted);
    expect(maxAbsDiff(floats(out.logits as ort.Tensor), ref.logits)).toBeLessThan(TOL);
    const base = llamaRef(config, weights, Float64Array.from(embeds), 1, T, ones, positions);
    expect(maxAbsDiff(ref.logits, base.logits)).toBeGreaterThan(1e-3);
  });

  it('with a past equals the full-sequence run (prefill 4, then 3 tokens)', async () => {
    const full = await runDecoder(embeds, 1, T, ones, positions);
    const prefix = await runDecoder(embeds.subarray(0, 4 * D), 1, 4, ones.slice(0, 4), positions.slice(0, 4));
    const rest = await runDecoder(embeds.subarray(4 * D), 1, 3, ones, positions.slice(4), presentAsPast(prefix));
    expect((rest.logits as ort.Tensor).dims).toEqual([1, 3, V]);
    const fullLogits = floats(full.logits as ort.Tensor);
    expect(maxAbsDiff(floats(rest.logits as ort.Tensor), fullLogits.subarray(4 * V))).toBeLessThan(TOL);
    for (let l = 0; l < LAYERS; l++) {
      for (const kv of ['key', 'value']) {
        const p = rest[`present.${l}.${kv}`] as ort.Tensor;
        expect(p.dims).toEqual([1, KV, T, HD]);
        expect(maxAbsDiff(floats(p), floats(full[`present.${l}.${kv}`] as ort.Tensor))).toBeLessThan(TOL);
      }
    }
  });

  it('decoding one token at a time reproduces every position of the full run', async () => {
    const full = floats((await runDecoder(embeds, 1, T, ones, positions)).logits as ort.Tensor);
    let past = emptyPast(1);
    for (let t = 0; t < T; t++) {
      const out = await runDecoder(embeds.subarray(t * D, (t + 1) * D), 1, 1, ones.slice(0, t + 1), [t], past);
      expect((out['present.0.key'] as ort.Tensor).dims).toEqual([1, KV, t + 1, HD]);
      expect(maxAbsDiff(floats(out.logits as ort.Tensor), full.subarray(t * V, (t + 1) * V))).toBeLessThan(TOL);
      past = presentAsPast(out);
    }
  });

  it('a left-padded batch of 2 equals each row alone, also when generating with the cache', async () => {
    const L0 = 7;
    const L1 = 4;
    const row0 = randomEmbeds(31, L0 * D);
    const row1 = randomEmbeds(32, L1 * D);
    const padded = new Float32Array(2 * L0 * D);
    padded.set(row0, 0);
    padded.set(randomEmbeds(33, (L0 - L1) * D), L0 * D); // garbage under the padding
    padded.set(row1, (L0 + (L0 - L1)) * D);
    const mask = [...new Array(L0).fill(1), ...new Array(L0 - L1).fill(0), ...new Array(L1).fill(1)];
    const pos = positionIdsFromMask(mask, 2, L0);
    expect(pos.slice(L0)).toEqual([1, 1, 1, 0, 1, 2, 3]);
    const batch = await runDecoder(padded, 2, L0, mask, pos);
    const alone0 = await runDecoder(row0, 1, L0, new Array(L0).fill(1), [0, 1, 2, 3, 4, 5, 6]);
    const alone1 = await runDecoder(row1, 1, L1, new Array(L1).fill(1), [0, 1, 2, 3]);
    const bl = floats(batch.logits as ort.Tensor);
    expect(maxAbsDiff(sliceBT(bl, L0, V, 0, 0, L0), floats(alone0.logits as ort.Tensor))).toBeLessThan(TOL);
    expect(maxAbsDiff(sliceBT(bl, L0, V, 1, L0 - L1, L0), floats(alone1.logits as ort.Tensor))).toBeLessThan(TOL);
    // The reference agrees on the valid rows.
    const ref = llamaRef(config, weights, Float64Array.from(padded), 2, L0, mask, pos);
    expect(maxAbsDiff(sliceBT(bl, L0, V, 1, L0 - L1, L0), sliceBT(ref.logits, L0, V, 1, L0 - L1, L0))).toBeLessThan(TOL);

    // One cached step for both rows.
    const next = randomEmbeds(34, 2 * D);
    const mask2 = [...mask.slice(0, L0), 1, ...mask.slice(L0), 1];
    const pos2 = positionIdsFromMask(mask2, 2, L0 + 1);
    const step = await runDecoder(next, 2, 1, mask2, [pos2[L0], pos2[2 * L0 + 1]], presentAsPast(batch));
    const step0 = await runDecoder(next.subarray(0, D), 1, 1, new Array(L0 + 1).fill(1), [L0], presentAsPast(alone0));
    const step1 = await runDecoder(next.subarray(D), 1, 1, new Array(L1 + 1).fill(1), [L1], presentAsPast(alone1));
    const sl = floats(step.logits as ort.Tensor);
    expect((step['present.1.value'] as ort.Tensor).dims).toEqual([2, KV, L0 + 1, HD]);
    expect(maxAbsDiff(sl.subarray(0, V), floats(step0.logits as ort.Tensor))).toBeLessThan(TOL);
    expect(maxAbsDiff(sl.subarray(V), floats(step1.logits as ort.Tensor))).toBeLessThan(TOL);
  });

  it('a right-padded batch of 2 equals each row alone on the valid positions', async () => {
    const L0 = 6;
    const L1 = 3;
    const row0 = randomEmbeds(41, L0 * D);
    const row1 = randomEmbeds(42, L1 * D);
    const padded = new Float32Array(2 * L0 * D);
    padded.set(row0, 0);
    padded.set(row1, L0 * D);
    padded.set(randomEmbeds(43, (L0 - L1) * D), (L0 + L1) * D);
    const mask = [...new Array(L0).fill(1), ...new Array(L1).fill(1), ...new Array(L0 - L1).fill(0)];
    const pos = positionIdsFromMask(mask, 2, L0);
    const batch = await runDecoder(padded, 2, L0, mask, pos);
    const alone0 = await runDecoder(row0, 1, L0, new Array(L0).fill(1), [0, 1, 2, 3, 4, 5]);
    const alone1 = await runDecoder(row1, 1, L1, new Array(L1).fill(1), [0, 1, 2]);
    const bl = floats(batch.logits as ort.Tensor);
    expect(maxAbsDiff(sliceBT(bl, L0, V, 0, 0, L0), floats(alone0.logits as ort.Tensor))).toBeLessThan(TOL);
    expect(maxAbsDiff(sliceBT(bl, L0, V, 1, 0, L1), floats(alone1.logits as ort.Tensor))).toBeLessThan(TOL);
  });

  it('applies the padding mask (dropping it changes a left-padded row)', async () => {
    const L0 = 6;
    const L1 = 3;
    const leftMask = [...new Array(L0).fill(1), ...new Array(L0 - L1).fill(0), ...new Array(L1).fill(1)];
    const leftEmbeds = randomEmbeds(44, 2 * L0 * D);
    const pos = positionIdsFromMask(leftMask, 2, L0);
    const masked = floats((await runDecoder(leftEmbeds, 2, L0, leftMask, pos)).logits as ort.Tensor);
    const unmasked = floats((await runDecoder(leftEmbeds, 2, L0, new Array(2 * L0).fill(1), pos)).logits as ort.Tensor);
    expect(maxAbsDiff(sliceBT(masked, L0, V, 1, L0 - 1, L0), sliceBT(unmasked, L0, V, 1, L0 - 1, L0))).toBeGreaterThan(1e-3);
    // Row 0 has no padding and is unaffected.
    expect(maxAbsDiff(sliceBT(masked, L0, V, 0, 0, L0), sliceBT(unmasked, L0, V, 0, 0, L0))).toBeLessThan(TOL);
  });
});
