import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Idefics3Config, type LlamaConfig, parseModelConfig } from '../config';
import { tinyIdefics3Config, tinyLlamaConfig, useTestBackend } from './fixtures.testutil';
import type { WeightMap } from './weightReader';
import { expectedShapes, loadIdefics3Model, loadLlamaModel, parameterCount, randomWeights } from './weights';

beforeAll(useTestBackend);

const SMOLVLM_256M = parseModelConfig({
  model_type: 'idefics3',
  image_token_id: 49190,
  scale_factor: 4,
  tie_word_embeddings: false,
  text_config: {
    head_dim: 64,
    hidden_size: 576,
    intermediate_size: 1536,
    max_position_embeddings: 8192,
    num_attention_heads: 9,
    num_hidden_layers: 30,
    num_key_value_heads: 3,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    vocab_size: 49280,
  },
  vision_config: { hidden_size: 768, image_size: 512, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, patch_size: 16 },
}) as Idefics3Config;

const SMOLLM2_135M = parseModelConfig({
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  max_position_embeddings: 8192,
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  vocab_size: 49152,
}) as LlamaConfig;

function copyMap(m: WeightMap): WeightMap {
  return new Map([...m].map(([k, v]) => [k, { shape: v.shape.slice(), data: v.data }]));
}

describe('weight names and shapes', () => {
  it('uses the exact Hugging Face names', () => {
    const shapes = expectedShapes(SMOLVLM_256M);
    expect(shapes.get('model.vision_model.embeddings.patch_embedding.weight')).toEqual([768, 3, 16, 16]);
    expect(shapes.get('model.vision_model.embeddings.patch_embedding.bias')).toEqual([768]);
    expect(shapes.get('model.vision_model.embeddings.position_embedding.weight')).toEqual([1024, 768]);
    expect(shapes.get('model.vision_model.encoder.layers.11.self_attn.out_proj.bias')).toEqual([768]);
    expect(shapes.get('model.vision_model.encoder.layers.0.layer_norm2.weight')).toEqual([768]);
    expect(shapes.get('model.vision_model.encoder.layers.0.mlp.fc1.weight')).toEqual([3072, 768]);
    expect(shapes.get('model.vision_model.post_layernorm.bias')).toEqual([768]);
    expect(shapes.get('model.connector.modality_projection.proj.weight')).toEqual([576, 768 * 16]);
    expect(shapes.get('model.text_model.embed_tokens.weight')).toEqual([49280, 576]);
    expect(shapes.get('model.text_model.layers.29.self_attn.k_proj.weight')).toEqual([192, 576]);
    expect(shapes.get('model.text_model.layers.0.mlp.down_proj.weight')).toEqual([576, 1536]);
    expect(shapes.get('model.text_model.layers.0.post_attention_layernorm.weight')).toEqual([576]);
    expect(shapes.get('model.text_model.norm.weight')).toEqual([576]);
    expect(shapes.get('lm_head.weight')).toEqual([49280, 576]);
    const llama = expectedShapes(SMOLLM2_135M);
    expect(llama.get('model.embed_tokens.weight')).toEqual([49152, 576]);
    expect(llama.get('model.layers.3.self_attn.o_proj.weight')).toEqual([576, 576]);
    expect(llama.get('model.norm.weight')).toEqual([576]);
    expect(llama.has('lm_head.weight')).toBe(false); // tied
  });

  it('counts the parameters of SmolVLM-256M and SmolLM2-135M', () => {
    // Worked by hand. Vision: patch 768·3·16·16+768, positions 1024·768, 12 × (4·(768²+768) + 4·768 +
    // 2·768·3072 + 3072 + 768), post-LN 2·768 = 86,433,024. Connector 576·12288 = 7,077,888.
    // Text: 30 × (576·576·2 + 192·576·2 + 3·576·1536 + 2·576) + 576 + 2·49280·576 = 162,974,016.
    expect(parameterCount(SMOLVLM_256M)).toBe(86_433_024 + 7_077_888 + 162_974_016);
    // 30 × 3,540,096 + 576 + 49152·576 (tied head)
    expect(parameterCount(SMOLLM2_135M)).toBe(134_515_008);
  });

  it('randomWeights is reproducible from its seed and covers every expected tensor', () => {
    const c = tinyIdefics3Config();
    const a = randomWeights(c, 1);
    const b = randomWeights(c, 1);
    const d = randomWeights(c, 2);
    expect([...a.keys()]).toEqual([...expectedShapes(c).keys()]);
    for (const [k, v] of a) {
      expect(v.shape).toEqual(expectedShapes(c).get(k));
      expect([...v.data]).toEqual([...b.get(k)!.data]);
    }
    expect(a.get('model.text_model.embed_tokens.weight')!.data[0]).not.toBe(d.get('model.text_model.embed_tokens.weight')!.data[0]);
    const ln = a.get('model.text_model.norm.weight')!.data;
    expect(Math.abs(ln.reduce((s, v) => s + v, 0) / ln.length - 1)).toBeLessThan(0.05); // norm weights ≈ 1
  });
});

describe('loading from a weight map', () => {
  it('names the missing tensor and its expected shape', () => {
    const c = tinyIdefics3Config();
    const m = copyMap(randomWeights(c, 1));
    m.delete('model.text_model.layers.1.mlp.up_proj.weight');
    expect(() => loadIdefics3Model(c, m)).toThrow('missing tensor "model.text_model.layers.1.mlp.up_proj.weight" (expected shape [40, 24])');
    const l = tinyLlamaConfig();
    const lm = copyMap(randomWeights(l, 1));
    lm.delete('lm_head.weight');
    expect(() => loadLlamaModel(l, lm)).toThrow('missing tensor "lm_head.weight" (expected shape [50, 24])');
  });

  it('names a tensor with the wrong shape, with expected and actual shapes', () => {
    const c = tinyIdefics3Config();
    const m = copyMap(randomWeights(c, 1));
    const t = m.get('model.vision_model.embeddings.patch_embedding.weight')!;
    t.shape = [12, 3, 2, 8]; // same element count, wrong layout
    expect(() => loadIdefics3Model(c, m)).toThrow(
      'tensor "model.vision_model.embeddings.patch_embedding.weight" has shape [12, 3, 2, 8], expected [12, 3, 4, 4]',
    );
    const m2 = copyMap(randomWeights(c, 1));
    m2.set('model.connector.modality_projection.proj.weight', { shape: [24, 48], data: new Float32Array(10) });
    expect(() => loadIdefics3Model(c, m2)).toThrow(/"model.connector.modality_projection.proj.weight" has 10 values, expected 1152/);
  });

  it('loading fails without leaking tensors or variables', () => {
    const c = tinyIdefics3Config();
    const m = copyMap(randomWeights(c, 1));
    m.get('model.text_model.norm.weight')!.shape = [25];
    const before = tf.memory().numTensors;
    expect(() => loadIdefics3Model(c, m)).toThrow(/model.text_model.norm.weight/);
    expect(tf.memory().numTensors).toBe(before);
  });

});
