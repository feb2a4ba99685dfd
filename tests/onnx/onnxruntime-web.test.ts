/**
 * The generated files also load and run in onnxruntime-web (the wasm backend
 * the browser uses; here in Node) and give the same numbers as onnxruntime-node.
 */
import { describe, expect, it } from 'vitest';
import * as ortWeb from 'onnxruntime-web';
import { buildClipOnnx, makeTinyClip } from '../../scripts/onnx/clip';
import { buildIdefics3Onnx, randomIdefics3Weights, type Idefics3Config } from '../../scripts/onnx/idefics3';
import { Prng } from '../../src/models/prng';
import { ort, session, uniform } from './helpers';
import { maxAbsDiff } from './reference';

ortWeb.env.wasm.numThreads = 1;

const config: Idefics3Config = {
  scale_factor: 2,
  vision_config: { hidden_size: 32, intermediate_size: 48, num_attention_heads: 4, num_hidden_layers: 2, image_size: 32, patch_size: 8 },
  text_config: {
    hidden_size: 64,
    intermediate_size: 96,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
    vocab_size: 300,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
  },
};

type Feed = { type: 'float32' | 'int64' | 'bool'; data: Float32Array | BigInt64Array | Uint8Array; dims: number[] };

async function compare(bytes: Uint8Array, feeds: Record<string, Feed>): Promise<void> {
  const node = await session(bytes);
  const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  expect(web.inputNames).toEqual(node.inputNames);
  expect(web.outputNames).toEqual(node.outputNames);
  const nodeFeeds: Record<string, ort.Tensor> = {};
  const webFeeds: Record<string, ortWeb.Tensor> = {};
  for (const [name, f] of Object.entries(feeds)) {
    nodeFeeds[name] = new ort.Tensor(f.type, f.data, f.dims);
    webFeeds[name] = new ortWeb.Tensor(f.type, f.data, f.dims);
  }
  const a = await node.run(nodeFeeds);
  const b = await web.run(webFeeds);
  for (const name of node.outputNames) {
    const x = a[name] as ort.Tensor;
    const y = b[name] as ortWeb.Tensor;
    expect(y.dims, name).toEqual(x.dims);
    expect(maxAbsDiff(y.data as Float32Array, x.data as Float32Array), name).toBeLessThan(1e-5);
  }
  await web.release();
}

describe('onnxruntime-web (wasm) runs the generated graphs like onnxruntime-node', () => {
  for (const [dtype, suffix] of [
    ['fp32', ''],
    ['q8', '_quantized'],
    ['q4', '_q4'],
  ] as const) {
    it(`Idefics3 ${dtype}: vision_encoder${suffix}, embed_tokens${suffix}, decoder_model_merged${suffix} (empty past)`, async () => {
      const files = buildIdefics3Onnx(config, randomIdefics3Weights(config, 3), [dtype]);
      const rng = new Prng(1);
      await compare(files[`onnx/vision_encoder${suffix}.onnx`], {
        pixel_values: { type: 'float32', data: uniform(rng, 2 * 3 * 32 * 32), dims: [1, 2, 3, 32, 32] },
        pixel_attention_mask: { type: 'bool', data: new Uint8Array(2 * 32 * 32).fill(1), dims: [1, 2, 32, 32] },
      });
      await compare(files[`onnx/embed_tokens${suffix}.onnx`], {
        input_ids: { type: 'int64', data: BigInt64Array.from([3n, 299n, 0n]), dims: [1, 3] },
      });
      const past: Record<string, Feed> = {};
      for (let i = 0; i < 2; i++) {
        for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = { type: 'float32', data: new Float32Array(0), dims: [2, 2, 0, 16] };
      }
      await compare(files[`onnx/decoder_model_merged${suffix}.onnx`], {
        inputs_embeds: { type: 'float32', data: rng.normals(2 * 4 * 64, 1), dims: [2, 4, 64] },
        attention_mask: { type: 'int64', data: BigInt64Array.from([1n, 1n, 1n, 1n, 0n, 1n, 1n, 1n]), dims: [2, 4] },
        position_ids: { type: 'int64', data: BigInt64Array.from([0n, 1n, 2n, 3n, 1n, 0n, 1n, 2n]), dims: [2, 4] },
        ...past,
      });
    });
  }

  it('CLIP: text_model and vision_model', async () => {
    const tiny = makeTinyClip(4, { vocabSize: 40 });
    const files = buildClipOnnx(tiny.config, tiny.weights);
    await compare(files['onnx/text_model.onnx'], {
      input_ids: { type: 'int64', data: BigInt64Array.from([38n, 5n, 39n, 38n, 7n, 8n]), dims: [2, 3] },
    });
    await compare(files['onnx/vision_model.onnx'], {
      pixel_values: { type: 'float32', data: uniform(new Prng(2), 3 * 32 * 32), dims: [1, 3, 32, 32] },
    });
  });
});
