import { beforeAll, describe, expect, it } from 'vitest';
import { buildClipOnnx, clipPoolingRule, makeTinyClip, type ClipConfig } from '../../scripts/onnx/clip';
import { clipFamily } from '../../src/models/families/clip';
import { Prng } from '../../src/models/prng';
import { f32, floats, i64, ort, session, uniform } from './helpers';
import { clipTextRef, clipVisionRef, maxAbsDiff } from './reference';

const TOL = 1e-4;
const VOCAB = 40;
const EOS = VOCAB - 1;
const BOS = VOCAB - 2;
const tiny = makeTinyClip(5, { vocabSize: VOCAB });

let text: ort.InferenceSession;
let vision: ort.InferenceSession;

beforeAll(async () => {
  const files = buildClipOnnx(tiny.config, tiny.weights);
  expect(Object.keys(files).sort()).toEqual(['onnx/text_model.onnx', 'onnx/vision_model.onnx']);
  text = await session(files['onnx/text_model.onnx']);
  vision = await session(files['onnx/vision_model.onnx']);
});

describe('makeTinyClip', () => {
  it('is deterministic in its seed and uses the Hugging Face CLIPModel weight names', () => {
    const again = makeTinyClip(5, { vocabSize: VOCAB });
    const other = makeTinyClip(6, { vocabSize: VOCAB });
    expect([...again.weights.keys()]).toEqual([...tiny.weights.keys()]);
    for (const [name, t] of tiny.weights) {
      expect(Array.from(again.weights.get(name)!.data)).toEqual(Array.from(t.data));
    }
    const w = 'text_model.encoder.layers.1.mlp.fc2.weight';
    expect(maxAbsDiff(other.weights.get(w)!.data, tiny.weights.get(w)!.data)).toBeGreaterThan(0.01);
    for (const name of [
      'text_model.embeddings.token_embedding.weight',
      'text_model.embeddings.position_embedding.weight',
      'text_model.encoder.layers.0.self_attn.out_proj.bias',
      'text_model.final_layer_norm.weight',
      'text_projection.weight',
      'vision_model.embeddings.class_embedding',
      'vision_model.embeddings.patch_embedding.weight',
      'vision_model.embeddings.position_embedding.weight',
      'vision_model.pre_layrnorm.weight',
      'vision_model.encoder.layers.1.layer_norm2.bias',
      'vision_model.post_layernorm.bias',
      'visual_projection.weight',
      'logit_scale',
    ]) {
      expect(tiny.weights.has(name), name).toBe(true);
    }
    expect(tiny.weights.has('vision_model.embeddings.patch_embedding.bias')).toBe(false);
    expect(tiny.weights.get('text_model.embeddings.token_embedding.weight')!.shape).toEqual([VOCAB, 32]);
    expect(tiny.weights.get('vision_model.embeddings.position_embedding.weight')!.shape).toEqual([17, 32]);
    expect(tiny.weights.get('text_projection.weight')!.shape).toEqual([16, 32]);
    expect(tiny.weights.get('logit_scale')!.shape).toEqual([]);
    expect(clipFamily.weightShapes(tiny.config).size).toBe(tiny.weights.size);
    const c = tiny.config;
    expect([c.model_type, c.projection_dim, c.text_config.hidden_size, c.text_config.num_hidden_layers]).toEqual(['clip', 16, 32, 2]);
    expect([c.vision_config.image_size, c.vision_config.patch_size, c.vision_config.hidden_size]).toEqual([32, 8, 32]);
    expect([c.text_config.vocab_size, c.text_config.eos_token_id]).toEqual([VOCAB, EOS]);
  });
});

describe('CLIP ONNX: text_model', () => {
  it('has the input/output names of the CLIPTextModelWithProjection export', () => {
    expect(text.inputNames).toEqual(['input_ids']);
    expect(text.outputNames).toEqual(['text_embeds', 'last_hidden_state']);
  });

  it('matches the float64 reference, pooled at the first eos_token_id', async () => {
    const rows = [
      [BOS, 3, 17, 5, 9, EOS],
      [BOS, 30, 2, EOS, EOS, EOS], // right-padded with the eos id, as CLIP's tokenizer pads
    ];
    const out = await text.run({ input_ids: i64(rows.flat(), [2, 6]) });
    const embeds = out.text_embeds as ort.Tensor;
    expect(embeds.dims).toEqual([2, 16]);
    expect((out.last_hidden_state as ort.Tensor).dims).toEqual([2, 6, 32]);
    const refs = rows.map((ids) => clipTextRef(tiny.config, tiny.weights, ids));
    expect(maxAbsDiff(floats(embeds), [...refs[0].textEmbeds, ...refs[1].textEmbeds])).toBeLessThan(TOL);
    expect(maxAbsDiff(floats(out.last_hidden_state as ort.Tensor), [...refs[0].lastHidden, ...refs[1].lastHidden])).toBeLessThan(TOL);
    expect(Math.max(...Array.from(refs[0].textEmbeds, Math.abs))).toBeGreaterThan(0.1);
  });

  it('a right-padded batch equals each row alone (text_embeds)', async () => {
    const short = [BOS, 11, 12, EOS];
    const long = [BOS, 4, 5, 6, 7, 8, EOS];
    const padded = [...long, ...short, EOS, EOS, EOS];
    const batch = floats((await text.run({ input_ids: i64(padded, [2, 7]) })).text_embeds as ort.Tensor);
    const a = floats((await text.run({ input_ids: i64(long, [1, 7]) })).text_embeds as ort.Tensor);
    const b = floats((await text.run({ input_ids: i64(short, [1, 4]) })).text_embeds as ort.Tensor);
    expect(maxAbsDiff(batch.subarray(0, 16), a)).toBeLessThan(TOL);
    expect(maxAbsDiff(batch.subarray(16), b)).toBeLessThan(TOL);
  });

  it('with the legacy eos_token_id 2 pools at argmax(input_ids), as Hugging Face does', async () => {
    expect(clipPoolingRule(2)).toBe('argmax');
    expect(clipPoolingRule(EOS)).toBe('first-eos');
    const legacy: ClipConfig = { ...tiny.config, text_config: { ...tiny.config.text_config, eos_token_id: 2 } };
    const eos3: ClipConfig = { ...tiny.config, text_config: { ...tiny.config.text_config, eos_token_id: 3 } };
    const legacyText = await session(buildClipOnnx(legacy, tiny.weights)['onnx/text_model.onnx']);
    const eos3Text = await session(buildClipOnnx(eos3, tiny.weights)['onnx/text_model.onnx']);
    // argmax(ids) is index 1; the first 3 is at index 2; there is a second 3 at index 4.
    const ids = [7, 38, 3, 30, 3, 5];
    const gotLegacy = floats((await legacyText.run({ input_ids: i64(ids, [1, 6]) })).text_embeds as ort.Tensor);
    const gotEos3 = floats((await eos3Text.run({ input_ids: i64(ids, [1, 6]) })).text_embeds as ort.Tensor);
    expect(maxAbsDiff(gotLegacy, clipTextRef(legacy, tiny.weights, ids).textEmbeds)).toBeLessThan(TOL);
    expect(maxAbsDiff(gotEos3, clipTextRef(eos3, tiny.weights, ids).textEmbeds)).toBeLessThan(TOL);
    // The two rules pool different rows of the same hidden states.
    expect(maxAbsDiff(gotLegacy, gotEos3)).toBeGreaterThan(1e-3);
    const hidden = floats((await eos3Text.run({ input_ids: i64(ids, [1, 6]) })).last_hidden_state as ort.Tensor);
    const proj = tiny.weights.get('text_projection.weight')!.data;
    const project = (row: number) =>
      Array.from({ length: 16 }, (_, o) => {
        let acc = 0;
        for (let i = 0; i < 32; i++) acc += hidden[row * 32 + i] * proj[o * 32 + i];
        return acc;
      });
    expect(maxAbsDiff(gotLegacy, project(1))).toBeLessThan(TOL);
    expect(maxAbsDiff(gotEos3, project(2))).toBeLessThan(TOL);
  });
});

describe('CLIP ONNX: vision_model', () => {
  it('has the input/output names of the CLIPVisionModelWithProjection export', () => {
    expect(vision.inputNames).toEqual(['pixel_values']);
    expect(vision.outputNames).toEqual(['image_embeds', 'last_hidden_state']);
  });

  it('matches the float64 reference on a batch of 2', async () => {
    const per = 3 * 32 * 32;
    const pv = uniform(new Prng(9), 2 * per);
    const out = await vision.run({ pixel_values: f32(pv, [2, 3, 32, 32]) });
    const embeds = out.image_embeds as ort.Tensor;
    expect(embeds.dims).toEqual([2, 16]);
    expect((out.last_hidden_state as ort.Tensor).dims).toEqual([2, 17, 32]);
    const refs = [0, 1].map((i) => clipVisionRef(tiny.config, tiny.weights, pv.subarray(i * per, (i + 1) * per)));
    expect(maxAbsDiff(floats(embeds), [...refs[0].imageEmbeds, ...refs[1].imageEmbeds])).toBeLessThan(TOL);
    expect(maxAbsDiff(floats(out.last_hidden_state as ort.Tensor), [...refs[0].lastHidden, ...refs[1].lastHidden])).toBeLessThan(TOL);
    expect(maxAbsDiff(refs[0].imageEmbeds, refs[1].imageEmbeds)).toBeGreaterThan(1e-3);
  });
});
