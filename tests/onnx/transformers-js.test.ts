/**
 * Loads the generated ONNX files through transformers.js itself (the real
 * session naming, feed picking, cache creation and position-id code) and
 * checks it reproduces our direct onnxruntime runs / the float64 reference.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  Idefics3ForConditionalGeneration,
  Tensor,
  env,
} from '@huggingface/transformers';
import { buildClipOnnx, makeTinyClip } from '../../scripts/onnx/clip';
import { buildIdefics3Onnx, randomIdefics3Weights, type Idefics3Config } from '../../scripts/onnx/idefics3';
import { Prng } from '../../src/models/prng';
import { uniform } from './helpers';
import { clipTextRef, clipVisionRef, idefics3ImageFeaturesRef, llamaRef, maxAbsDiff } from './reference';

const TOL = 1e-4;
let root: string;

function writeModel(name: string, files: Record<string, Uint8Array | string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, name, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

const previous = { remote: env.allowRemoteModels, local: env.allowLocalModels, path: env.localModelPath };

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'onnx-tjs-'));
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root + path.sep;
});

afterAll(() => {
  env.allowRemoteModels = previous.remote;
  env.allowLocalModels = previous.local;
  env.localModelPath = previous.path;
  rmSync(root, { recursive: true, force: true });
});

describe('transformers.js loads the generated CLIP files', () => {
  it('CLIPTextModelWithProjection and CLIPVisionModelWithProjection give the reference embeddings', async () => {
    const tiny = makeTinyClip(2, { vocabSize: 40 });
    writeModel('tiny-clip', { 'config.json': JSON.stringify(tiny.config), ...buildClipOnnx(tiny.config, tiny.weights) });
    const textModel = await CLIPTextModelWithProjection.from_pretrained('tiny-clip', { dtype: 'fp32', device: 'cpu' });
    const ids = [38, 4, 9, 39, 39];
    const out = await textModel({ input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, 5]) });
    expect(out.text_embeds.dims).toEqual([1, 16]);
    expect(maxAbsDiff(out.text_embeds.data as Float32Array, clipTextRef(tiny.config, tiny.weights, ids).textEmbeds)).toBeLessThan(TOL);

    const visionModel = await CLIPVisionModelWithProjection.from_pretrained('tiny-clip', { dtype: 'fp32', device: 'cpu' });
    const pv = uniform(new Prng(3), 3 * 32 * 32);
    const vout = await visionModel({ pixel_values: new Tensor('float32', pv, [1, 3, 32, 32]) });
    expect(vout.image_embeds.dims).toEqual([1, 16]);
    expect(maxAbsDiff(vout.image_embeds.data as Float32Array, clipVisionRef(tiny.config, tiny.weights, pv).imageEmbeds)).toBeLessThan(TOL);
    await textModel.dispose();
    await visionModel.dispose();
  });
});

describe('transformers.js loads the generated Idefics3 files', () => {
  const IMAGE_TOKEN = 299;
  const config: Idefics3Config & Record<string, unknown> = {
    architectures: ['Idefics3ForConditionalGeneration'],
    model_type: 'idefics3',
    image_token_id: IMAGE_TOKEN,
    scale_factor: 2,
    vision_config: {
      model_type: 'idefics3_vision',
      hidden_size: 32,
      intermediate_size: 48,
      num_attention_heads: 4,
      num_hidden_layers: 2,
      image_size: 32,
      patch_size: 8,
      layer_norm_eps: 1e-6,
      hidden_act: 'gelu_pytorch_tanh',
    } as Idefics3Config['vision_config'],
    text_config: {
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 96,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      num_hidden_layers: 2,
      vocab_size: 300,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      hidden_act: 'silu',
    } as Idefics3Config['text_config'],
  };
  const weights = randomIdefics3Weights(config, 8);

  it('a forward with pixel_values equals embed → merge image features → reference decoder', async () => {
    writeModel('tiny-idefics3', { 'config.json': JSON.stringify(config), ...buildIdefics3Onnx(config, weights) });
    const model = await Idefics3ForConditionalGeneration.from_pretrained('tiny-idefics3', { dtype: 'fp32', device: 'cpu' });
    const S = 32;
    const pv = uniform(new Prng(4), 3 * S * S);
    const ids = [1, 5, IMAGE_TOKEN, IMAGE_TOKEN, IMAGE_TOKEN, IMAGE_TOKEN, 7, 8];
    const T = ids.length;
    const out = await model({
      input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, T]),
      attention_mask: new Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
      pixel_values: new Tensor('float32', pv, [1, 1, 3, S, S]),
      pixel_attention_mask: new Tensor('bool', new Uint8Array(S * S).fill(1), [1, 1, S, S]),
    });
    expect(out.logits.dims).toEqual([1, T, 300]);

    const table = weights.get('model.text_model.embed_tokens.weight')!.data;
    const feats = idefics3ImageFeaturesRef(config, weights, pv, 1)[0];
    const embeds = new Float64Array(T * 64);
    let img = 0;
    for (let t = 0; t < T; t++) {
      for (let d = 0; d < 64; d++) embeds[t * 64 + d] = ids[t] === IMAGE_TOKEN ? feats[img * 64 + d] : table[ids[t] * 64 + d];
      if (ids[t] === IMAGE_TOKEN) img++;
    }
    const ref = llamaRef(config, weights, embeds, 1, T, new Array(T).fill(1), [...Array(T).keys()]);
    expect(maxAbsDiff(out.logits.data as Float32Array, ref.logits)).toBeLessThan(TOL);
    await model.dispose();
  });

  it('greedy generate() through the cache matches greedy decoding with the reference', async () => {
    const model = await Idefics3ForConditionalGeneration.from_pretrained('tiny-idefics3', { dtype: 'fp32', device: 'cpu' });
    const prompt = [1, 20, 30, 40];
    const generated = (await model.generate({
      input_ids: new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]),
      attention_mask: new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]),
      max_new_tokens: 5,
      do_sample: false,
    })) as Tensor;
    const got = Array.from(generated.data as BigInt64Array, Number);

    const table = weights.get('model.text_model.embed_tokens.weight')!.data;
    const seq = [...prompt];
    for (let step = 0; step < 5; step++) {
      const T = seq.length;
      const embeds = Float64Array.from(seq.flatMap((id) => Array.from(table.subarray(id * 64, (id + 1) * 64))));
      const { logits } = llamaRef(config, weights, embeds, 1, T, new Array(T).fill(1), [...Array(T).keys()]);
      const last = logits.subarray((T - 1) * 300, T * 300);
      let best = 0;
      for (let v = 1; v < 300; v++) if (last[v] > last[best]) best = v;
      seq.push(best);
    }
    expect(got).toEqual(seq);
    await model.dispose();
  });
});
