/**
 * The quantized ONNX files of tiny-smolvlm (q8 `*_quantized.onnx`, q4 `*_q4.onnx`, scripts/onnx/quantize.ts) load
 * through the app's ONNX engine by the same dtype option as the Hub's SmolVLMs, hold the ops the Hub's files hold,
 * and score within a measured tolerance of fp32.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, fixtureSource } from '../../../scripts/lib/nodeModelSource';
import type { ResponseLogprobs } from '../engine';
import { squareImage } from '../../../tests/setup/images';
import { loadOnnxEngine, onnxFileNames, type OnnxDtypeOption, type OnnxEngine } from './engine';

const PROMPT = 'What is in the picture?';
const RESPONSES = ['A red square. It sits on blue ground, 3 cm wide.', 'A green circle!'];

/** What the Hub's SmolVLMs are loaded with (src/models/catalog.ts' SMOLVLM_Q4). */
const Q4: OnnxDtypeOption = { vision_encoder: 'q4', embed_tokens: 'q4', decoder_model_merged: 'q4' };

/**
 * Largest per-token |Δ log-prob| against fp32, measured on tiny-smolvlm over these two responses (random weights of
 * std 0.02 in BF16, onnxruntime-node 1.30 on the CPU): q8 7.7e-3 without the image and 8.7e-3 with it, q4 5.4e-2 and
 * 5.3e-2. The bounds are a little above.
 */
const Q8_TOLERANCE = 0.012;
const Q4_TOLERANCE = 0.07;

const DIR = join(FIXTURE_MODELS, 'tiny-smolvlm');

let fp32: OnnxEngine;
let q8: OnnxEngine;
let q4: OnnxEngine;
const filesRead: Record<string, Set<string>> = { fp32: new Set(), q8: new Set(), q4: new Set() };

beforeAll(async () => {
  const load = (name: string, dtype: OnnxDtypeOption) =>
    loadOnnxEngine(fixtureSource('tiny-smolvlm'), { device: 'cpu', dtype, onProgress: (p) => filesRead[name].add(p.file) });
  fp32 = await load('fp32', 'fp32');
  q8 = await load('q8', 'q8');
  q4 = await load('q4', Q4);
});

afterAll(() => {
  for (const e of [fp32, q8, q4]) e?.dispose();
});

function maxLogpDiff(a: ResponseLogprobs[], b: ResponseLogprobs[]): number {
  let m = 0;
  a.forEach((r, i) => r.tokens.forEach((t, k) => (m = Math.max(m, Math.abs(t.logp - b[i].tokens[k].logp)))));
  return m;
}

function nodesOf(file: string): { opType: string; domain: string; inputs: string[]; attrs: Record<string, number> }[] {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(DIR, file)));
  return (model.graph?.node ?? []).map((n) => ({
    opType: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: n.input ?? [],
    attrs: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? '', Number(a.i ?? 0)])),
  }));
}

function initializerTypes(file: string): Map<string, { dataType: number; dims: number[] }> {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(DIR, file)));
  return new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', { dataType: t.dataType ?? 0, dims: (t.dims ?? []).map(Number) }]));
}

function count(nodes: { opType: string }[], op: string): number {
  return nodes.filter((n) => n.opType === op).length;
}

/** Linear layers of tiny-smolvlm: 2 decoder layers × 7 + lm_head; 2 vision layers × 6 + the connector. */
const DECODER_LINEARS = 2 * 7 + 1;
const VISION_LINEARS = 2 * 6 + 1;

describe('dtype selection', () => {
  it('picks the Hub-named file of each session', () => {
    expect(onnxFileNames('idefics3', 'q8')).toEqual([
      'onnx/vision_encoder_quantized.onnx',
      'onnx/embed_tokens_quantized.onnx',
      'onnx/decoder_model_merged_quantized.onnx',
    ]);
    expect(onnxFileNames('idefics3', Q4)).toEqual(['onnx/vision_encoder_q4.onnx', 'onnx/embed_tokens_q4.onnx', 'onnx/decoder_model_merged_q4.onnx']);
    expect(onnxFileNames('idefics3', { decoder_model_merged: 'q4' })).toEqual([
      'onnx/vision_encoder.onnx',
      'onnx/embed_tokens.onnx',
      'onnx/decoder_model_merged_q4.onnx',
    ]);
  });

  it('the engine reads exactly those files', () => {
    expect([...filesRead.fp32].sort()).toEqual(onnxFileNames('idefics3', 'fp32').sort());
    expect([...filesRead.q8].sort()).toEqual(onnxFileNames('idefics3', 'q8').sort());
    expect([...filesRead.q4].sort()).toEqual(onnxFileNames('idefics3', Q4).sort());
  });
});

describe('the quantized graphs', () => {
  it('q4: every weight MatMul is a com.microsoft MatMulNBits (4 bits, blocks of 32), Conv and Gather stay float', () => {
    const decoder = nodesOf('onnx/decoder_model_merged_q4.onnx');
    const nbits = decoder.filter((n) => n.opType === 'MatMulNBits');
    expect(nbits).toHaveLength(DECODER_LINEARS);
    for (const n of nbits) {
      expect(n.domain).toBe('com.microsoft');
      expect(n.attrs).toMatchObject({ bits: 4, block_size: 32 });
      // No zero points: symmetric, MatMulNBits' implicit 8.
      expect(n.inputs).toHaveLength(3);
    }
    const inits = initializerTypes('onnx/decoder_model_merged_q4.onnx');
    const up = inits.get('model.text_model.layers.0.mlp.up_proj.weight_Q4')!;
    expect(up).toEqual({ dataType: onnxProto.onnx.TensorProto.DataType.UINT8, dims: [128, 2, 16] }); // [N, K / 32, 16]
    expect(inits.get('model.text_model.layers.0.mlp.up_proj.weight_scales')!.dims).toEqual([128 * 2]);
    expect(inits.has('model.text_model.layers.0.mlp.up_proj.weight')).toBe(false);
    // The attention products (no constant operand) remain MatMuls.
    expect(count(decoder, 'MatMul')).toBe(2 * 2);
    const vision = nodesOf('onnx/vision_encoder_q4.onnx');
    expect(count(vision, 'MatMulNBits')).toBe(VISION_LINEARS);
    expect(count(vision, 'Conv')).toBe(1);
    const embed = nodesOf('onnx/embed_tokens_q4.onnx');
    expect(embed.map((n) => n.opType)).toEqual(['Gather', 'Identity']);
  });

  it('q8: MatMulInteger on DynamicQuantizeLinear activations, ConvInteger in the vision encoder, a uint8 embedding table', () => {
    const decoder = nodesOf('onnx/decoder_model_merged_quantized.onnx');
    expect(count(decoder, 'MatMulInteger')).toBe(DECODER_LINEARS);
    // One activation quantization per distinct input: per layer q/k/v share one, gate/up one, o and down one each; lm_head.
    expect(count(decoder, 'DynamicQuantizeLinear')).toBe(2 * 4 + 1);
    expect(count(decoder, 'MatMul')).toBe(2 * 2);
    const inits = initializerTypes('onnx/decoder_model_merged_quantized.onnx');
    expect(inits.get('lm_head.weight_quantized')!.dataType).toBe(onnxProto.onnx.TensorProto.DataType.INT8);
    const vision = nodesOf('onnx/vision_encoder_quantized.onnx');
    expect(count(vision, 'MatMulInteger')).toBe(VISION_LINEARS);
    expect(count(vision, 'ConvInteger')).toBe(1);
    expect(count(vision, 'Conv')).toBe(0);
    const visionInits = initializerTypes('onnx/vision_encoder_quantized.onnx');
    expect(visionInits.get('model.vision_model.embeddings.patch_embedding.weight_quantized')!.dataType).toBe(onnxProto.onnx.TensorProto.DataType.UINT8);
    const embed = nodesOf('onnx/embed_tokens_quantized.onnx');
    expect(embed.map((n) => n.opType)).toEqual(['Gather', 'DequantizeLinear', 'Identity']);
    expect(initializerTypes('onnx/embed_tokens_quantized.onnx').get('model.text_model.embed_tokens.weight_quantized')!.dataType).toBe(
      onnxProto.onnx.TensorProto.DataType.UINT8,
    );
  });
});

describe('log-probs of the quantized models against fp32', () => {
  for (const withImage of [false, true]) {
    it(`stay within the measured tolerance ${withImage ? 'with' : 'without'} an image, and are not fp32's`, async () => {
      const request = { prompt: PROMPT, responses: RESPONSES, image: withImage ? squareImage() : undefined };
      const ref = await fp32.logprobs(request);
      const a = await q8.logprobs(request);
      const b = await q4.logprobs(request);
      const d8 = maxLogpDiff(ref, a);
      const d4 = maxLogpDiff(ref, b);
      for (const r of [a, b]) expect(r.map((x) => x.inputIds)).toEqual(ref.map((x) => x.inputIds));
      expect(d8).toBeLessThan(Q8_TOLERANCE);
      expect(d4).toBeLessThan(Q4_TOLERANCE);
      // Other numbers: the quantized files were really run.
      expect(d8).toBeGreaterThan(1e-6);
      expect(d4).toBeGreaterThan(1e-6);
      expect(maxLogpDiff(a, b)).toBeGreaterThan(1e-6);
    });
  }
});
