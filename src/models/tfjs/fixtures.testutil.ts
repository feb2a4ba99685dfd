/** Tiny configurations and helpers shared by the TF.js model tests. */
import * as tf from '@tensorflow/tfjs';
import { type Idefics3Config, type LlamaConfig, parseModelConfig } from '../config';

export { useTestBackend } from '../../../tests/setup/testBackend';

/** A tiny SmolLM2-like config: GQA with 4 query heads on 2 kv heads, head_dim 6, small θ so RoPE matters. */
export function tinyLlamaConfig(tie = false): LlamaConfig {
  return parseModelConfig({
    model_type: 'llama',
    hidden_size: 24,
    intermediate_size: 40,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 6,
    rms_norm_eps: 1e-5,
    rope_theta: 100,
    vocab_size: 50,
    tie_word_embeddings: tie,
    max_position_embeddings: 64,
  }) as LlamaConfig;
}

/** A tiny SmolVLM-like config: 16×16 images, 4×4 patches → 16 patches → 4 image tokens (scale 2). */
export function tinyIdefics3Config(): Idefics3Config {
  return parseModelConfig({
    model_type: 'idefics3',
    image_token_id: 49,
    scale_factor: 2,
    tie_word_embeddings: false,
    text_config: {
      model_type: 'llama',
      hidden_size: 24,
      intermediate_size: 40,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 6,
      rms_norm_eps: 1e-5,
      rope_theta: 100,
      vocab_size: 50,
      max_position_embeddings: 64,
    },
    vision_config: {
      hidden_size: 12,
      intermediate_size: 20,
      num_hidden_layers: 2,
      num_attention_heads: 3,
      image_size: 16,
      patch_size: 4,
    },
  }) as Idefics3Config;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Deterministic pseudo-random pixels in [-1, 1]. */
export function pixels(n: number, c: number, h: number, w: number, seed: number): Float32Array {
  const out = new Float32Array(n * c * h * w);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

export async function download(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}
