/**
 * CLIP (`CLIPModel`) in TF.js, differentiable end to end, with the Hugging Face semantics and weight names:
 *
 *   text:   h = token_embedding[ids] + position_embedding[0 … T−1]
 *           for each layer: h = h + out_proj(MHA_causal(LN₁(h)));  h = h + fc2(quick_gelu(fc1(LN₂(h))))
 *           text_embeds  = text_projection(final_layer_norm(h)[pooled])       (no bias)
 *   vision: h = [class_embedding, patch_embedding(pixels)] + position_embedding    (patch conv without bias)
 *           h = pre_layrnorm(h); the same pre-LN blocks without a mask
 *           image_embeds = visual_projection(post_layernorm(h[:, 0]))        (no bias)
 *   logits = exp(logit_scale) · cos(text_embeds, image_embeds)
 *
 * quick_gelu(x) = x · σ(1.702 x). The pooled text position follows `clipPoolingRule` (the config's eos_token_id).
 * Embeddings come out unnormalised, as Hugging Face returns them; the cosine normalises.
 *
 * Every weight is a trainable `tf.Variable` under its `model.safetensors` name. Only kernels the WASM backend has are
 * used: lookups and row picks are `gatherRows` (gather's own gradient, UnsortedSegmentSum, is missing there), the
 * log-sum-exp of the loss is spelled out with max, exp, sum and log.
 */
import * as tf from '@tensorflow/tfjs';
import { clipFamily, clipPoolingRule, type ClipShapeConfig } from '../families/clip';
import { gatherRows } from './gatherRows';
import type { WeightMap } from './weightReader';

interface TowerConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  hidden_act?: string;
  layer_norm_eps?: number;
}

/** The config.json fields the TF.js CLIP reads. */
export interface ClipModelConfig extends ClipShapeConfig {
  text_config: ClipShapeConfig['text_config'] & TowerConfig & { eos_token_id?: number };
  vision_config: ClipShapeConfig['vision_config'] & TowerConfig;
}

/** Positions of the pooled token of each row of `ids`, by the config's rule (see `clipPoolingRule`). */
export function clipPooledPositions(ids: readonly (readonly number[])[], eosTokenId: number | undefined): number[] {
  const rule = clipPoolingRule(eosTokenId);
  return ids.map((row, b) => {
    let at = 0;
    if (rule === 'argmax') {
      row.forEach((id, t) => {
        if (id > row[at]) at = t;
      });
      return at;
    }
    at = row.indexOf(eosTokenId as number);
    // HF's argmax over `ids == eos` is 0 when a row has no end-of-text token.
    if (at < 0) throw new Error(`CLIP text row ${b} has no end-of-text token (${eosTokenId})`);
    return at;
  });
}

export class TfjsClip {
  /** Every weight by its Hugging Face name, in the family's order. */
  readonly params: Map<string, tf.Variable>;

  constructor(
    readonly config: ClipModelConfig,
    weights: WeightMap,
  ) {
    const shapes = clipFamily.weightShapes(config);
    this.params = new Map();
    for (const [name, shape] of shapes) {
      const w = weights.get(name);
      if (!w) throw new Error(`CLIP: missing tensor "${name}" (expected shape [${shape.join(', ')}])`);
      if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`CLIP: tensor "${name}" has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`);
      }
    }
    for (const [name, shape] of shapes) this.params.set(name, tf.variable(tf.tensor(weights.get(name)!.data, shape, 'float32'), true));
  }

  private p<T extends tf.Tensor>(name: string): T {
    const v = this.params.get(name);
    if (!v) throw new Error(`CLIP: no weight "${name}"`);
    return v as unknown as T;
  }

  get variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** x [N, in] · Wᵀ (+ b): 2-D, since a broadcast 3-D matMul fails in backprop. */
  private linear(x: tf.Tensor2D, name: string, bias = true): tf.Tensor2D {
    const y = tf.matMul(x, this.p<tf.Tensor2D>(`${name}.weight`), false, true) as tf.Tensor2D; // [N, out]
    return bias ? (tf.add(y, this.p<tf.Tensor1D>(`${name}.bias`)) as tf.Tensor2D) : y;
  }

  private layerNorm(x: tf.Tensor2D, name: string, eps: number): tf.Tensor2D {
    const { mean, variance } = tf.moments(x, -1, true); // [N, 1] each
    const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))); // [N, D]
    return tf.add(tf.mul(normed, this.p<tf.Tensor1D>(`${name}.weight`)), this.p<tf.Tensor1D>(`${name}.bias`));
  }

  private act(x: tf.Tensor2D, hiddenAct: string | undefined): tf.Tensor2D {
    const act = hiddenAct ?? 'quick_gelu';
    if (act !== 'quick_gelu') throw new Error(`CLIP: hidden_act "${act}" is not supported (only quick_gelu)`);
    return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
  }

  /**
   * One pre-LN encoder block on h [B·T, D] (rows of B sequences of T). `mask` [T, T] is added to the attention
   * scores (0 where a key is visible, a large negative number where not).
   */
  private block(h: tf.Tensor2D, prefix: string, c: TowerConfig, B: number, T: number, mask: tf.Tensor2D | null): tf.Tensor2D {
    const D = c.hidden_size;
    const H = c.num_attention_heads;
    const hd = D / H;
    const eps = c.layer_norm_eps ?? 1e-5;
    const x = this.layerNorm(h, `${prefix}.layer_norm1`, eps); // [B·T, D]
    const heads = (y: tf.Tensor2D) => y.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, hd]
    const q = heads(this.linear(x, `${prefix}.self_attn.q_proj`));
    const k = heads(this.linear(x, `${prefix}.self_attn.k_proj`));
    const v = heads(this.linear(x, `${prefix}.self_attn.v_proj`));
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)); // [B, H, T, T]
    if (mask) scores = tf.add(scores, mask);
    const ctx = tf.matMul(tf.softmax(scores, -1), v); // [B, H, T, hd]
    const merged = ctx.transpose([0, 2, 1, 3]).reshape([B * T, D]) as tf.Tensor2D; // [B·T, D]
    const a = tf.add<tf.Tensor2D>(h, this.linear(merged, `${prefix}.self_attn.out_proj`)); // [B·T, D]
    const m = this.linear(this.act(this.linear(this.layerNorm(a, `${prefix}.layer_norm2`, eps), `${prefix}.mlp.fc1`), c.hidden_act), `${prefix}.mlp.fc2`);
    return tf.add(a, m); // [B·T, D]
  }

  /** `text_embeds` [B, projection_dim] of right-padded id rows (each with its end-of-text token). */
  textEmbeds(ids: readonly (readonly number[])[]): tf.Tensor2D {
    return tf.tidy(() => {
      const c = this.config.text_config;
      const B = ids.length;
      const T = ids[0].length;
      if (ids.some((r) => r.length !== T)) throw new Error('CLIP: text rows must have one length (pad them)');
      if (T > c.max_position_embeddings) throw new Error(`CLIP: ${T} tokens, the text window is ${c.max_position_embeddings}`);
      const tok = gatherRows<tf.Rank.R2>(this.p('text_model.embeddings.token_embedding.weight'), Int32Array.from(ids.flat())); // [B·T, D]
      const positions = Int32Array.from({ length: B * T }, (_, i) => i % T);
      let h = tf.add(tok, gatherRows<tf.Rank.R2>(this.p('text_model.embeddings.position_embedding.weight'), positions)) as tf.Tensor2D; // [B·T, D]
      const causal = tf.tensor2d(Float32Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 0 : -1e9)), [T, T]); // [T, T]
      for (let i = 0; i < c.num_hidden_layers; i++) h = this.block(h, `text_model.encoder.layers.${i}`, c, B, T, causal);
      h = this.layerNorm(h, 'text_model.final_layer_norm', c.layer_norm_eps ?? 1e-5); // [B·T, D]
      const rows = Int32Array.from(clipPooledPositions(ids, c.eos_token_id), (t, b) => b * T + t);
      const pooled = gatherRows<tf.Rank.R2>(h, rows); // [B, D]
      return this.linear(pooled, 'text_projection', false); // [B, E]
    });
  }

  /** `image_embeds` [B, projection_dim] of pixel_values [B, C, image_size, image_size]. */
  imageEmbeds(pixelValues: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const c = this.config.vision_config;
      const [B, C, Hpx, Wpx] = pixelValues.shape;
      const P = c.patch_size;
      if (Hpx !== c.image_size || Wpx !== c.image_size || C !== (c.num_channels ?? 3)) {
        throw new Error(`CLIP: pixel_values [${pixelValues.shape.join(', ')}], the model reads [B, ${c.num_channels ?? 3}, ${c.image_size}, ${c.image_size}]`);
      }
      const D = c.hidden_size;
      const g = c.image_size / P;
      const N = g * g + 1;
      // Conv2d(kernel = stride = P) as unfold + matMul: each patch flattened in (c, kh, kw) order, like the kernel.
      const patches = pixelValues
        .reshape([B, C, g, P, g, P])
        .transpose([0, 2, 4, 1, 3, 5])
        .reshape([B * g * g, C * P * P]) as tf.Tensor2D; // [B·g², C·P²]
      const kernel = this.p<tf.Tensor4D>('vision_model.embeddings.patch_embedding.weight').reshape([D, C * P * P]) as tf.Tensor2D;
      const embedded = tf.matMul(patches, kernel, false, true).reshape([B, g * g, D]); // [B, g², D]
      const cls = tf.mul(tf.ones([B, 1, 1]), this.p<tf.Tensor1D>('vision_model.embeddings.class_embedding').reshape([1, 1, D])); // [B, 1, D]
      const withCls = tf.concat([cls, embedded], 1); // [B, N, D]
      let h = tf.add(withCls, this.p('vision_model.embeddings.position_embedding.weight')).reshape([B * N, D]) as tf.Tensor2D; // [B·N, D]
      h = this.layerNorm(h, 'vision_model.pre_layrnorm', c.layer_norm_eps ?? 1e-5);
      for (let i = 0; i < c.num_hidden_layers; i++) h = this.block(h, `vision_model.encoder.layers.${i}`, c, B, N, null);
      const first = gatherRows<tf.Rank.R2>(h, Int32Array.from({ length: B }, (_, b) => b * N)); // [B, D]
      const pooled = this.layerNorm(first, 'vision_model.post_layernorm', c.layer_norm_eps ?? 1e-5); // [B, D]
      return this.linear(pooled, 'visual_projection', false); // [B, E]
    });
  }

  /** The weights as a map of Hugging Face names to float32 data, in the family's order. */
  async weightMap(): Promise<WeightMap> {
    const out: WeightMap = new Map();
    for (const [name, v] of this.params) out.set(name, { shape: v.shape.slice(), data: Float32Array.from((await v.data()) as Float32Array) });
    return out;
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

/** Rows of x scaled to unit length. */
function unitRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.sqrt(tf.sum(tf.square(x), -1, true))); // [N, E]
}

/** log Σ exp over the last axis, shifted by the row maximum. */
function logSumExp(x: tf.Tensor2D): tf.Tensor1D {
  const m = tf.max(x, -1, true); // [N, 1]
  return tf.add(tf.log(tf.sum(tf.exp(tf.sub(x, m)), -1)), m.reshape([-1])) as tf.Tensor1D; // [N]
}

/** Cross-entropy of each row of `logits` [N, K] at `target[n]`, with `excluded[n][k]` left out of the softmax. */
function maskedCrossEntropy(logits: tf.Tensor2D, target: readonly number[], excluded: readonly (readonly boolean[])[]): tf.Scalar {
  const [N, K] = logits.shape;
  const pick = tf.oneHot(tf.tensor1d(Int32Array.from(target), 'int32'), K).cast('float32'); // [N, K]
  const penalty = tf.tensor2d(Float32Array.from({ length: N * K }, (_, i) => (excluded[Math.floor(i / K)][i % K] ? -1e9 : 0)), [N, K]);
  const correct = tf.sum(tf.mul(logits, pick), -1); // [N]
  return tf.mean(tf.sub(logSumExp(tf.add(logits, penalty)), correct));
}

export interface ContrastiveBatch {
  /** pixel_values [B, C, H, W] of B images */
  pixels: tf.Tensor4D;
  /** token rows of K distinct sentences, right-padded */
  texts: number[][];
  /** `truth[b][k]`: sentence k is true of image b */
  truth: boolean[][];
  /** (image, sentence) pairs that are true: the targets of both directions of the contrastive loss */
  positives: { image: number; text: number }[];
  /** a true sentence of an image and the same sentence made false */
  hard: { image: number; truth: number; falsehood: number }[];
  /** the weight of the hard pairs' loss (default 1) */
  hardWeight?: number;
  /** the weight of the sentences' uniformity (`textUniformity`; default 0, none) */
  uniformityWeight?: number;
}

/**
 * Wang & Isola's uniformity of unit rows x [K, E]: log of the mean over pairs i ≠ j of exp(−2‖xᵢ − xⱼ‖²)
 * = exp(4 cos − 4). Lower when the rows spread over the sphere; its gradient is largest on the closest pairs.
 */
export function uniformity(x: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const K = x.shape[0];
    const close = tf.exp(tf.mul(tf.sub(tf.matMul(x, x, false, true), 1), 4)); // [K, K], 1 on the diagonal
    return tf.log(tf.div(tf.sub(tf.sum(close), K), K * (K - 1))) as tf.Scalar;
  });
}

/**
 * CLIP's symmetric InfoNCE loss over a batch, with exact ground truth, plus hard negatives. For each true pair
 * (image b, sentence t): image b's softmax over the K sentences, t the target and the other sentences true of b
 * left out; sentence t's softmax over the B images, b the target and the other images t is true of left out. For
 * each hard pair: the two-way softmax of the true sentence against the same sentence made false. The mean of the
 * two directions, plus the mean of the hard pairs' loss times `hardWeight`, plus the sentences' `uniformity` times
 * `uniformityWeight`: without it the text tower can settle where a sentence and the same sentence made false
 * (`… on the left.`, `… on the right.`) have one embedding, and then the vision tower gets no gradient to tell them apart.
 */
export function clipContrastiveLoss(model: TfjsClip, batch: ContrastiveBatch): tf.Scalar {
  return tf.tidy(() => {
    const { truth, positives, hard } = batch;
    const B = batch.pixels.shape[0];
    const K = batch.texts.length;
    const img = unitRows(model.imageEmbeds(batch.pixels)); // [B, E]
    const txt = unitRows(model.textEmbeds(batch.texts)); // [K, E]
    const scale = tf.exp(model.params.get('logit_scale')!);
    const logits = tf.mul(tf.matMul(img, txt, false, true), scale) as tf.Tensor2D; // [B, K]
    const imageToText = maskedCrossEntropy(
      gatherRows<tf.Rank.R2>(logits, Int32Array.from(positives, (p) => p.image)), // [R, K]
      positives.map((p) => p.text),
      positives.map((p) => truth[p.image].map((t, k) => t && k !== p.text)),
    );
    const textToImage = maskedCrossEntropy(
      gatherRows<tf.Rank.R2>(tf.transpose(logits), Int32Array.from(positives, (p) => p.text)), // [R, B]
      positives.map((p) => p.image),
      positives.map((p) => Array.from({ length: B }, (_, j) => truth[j][p.text] && j !== p.image)),
    );
    const cells = Int32Array.from(hard.flatMap((h) => [h.image * K + h.truth, h.image * K + h.falsehood]));
    const hardPairs = gatherRows<tf.Rank.R2>(logits.reshape([B * K, 1]), cells).reshape([hard.length, 2]) as tf.Tensor2D; // [H, 2]
    const hardLoss = maskedCrossEntropy(
      hardPairs,
      hard.map(() => 0),
      hard.map(() => [false, false]),
    );
    const contrastive = tf.add(tf.mul(tf.add(imageToText, textToImage), 0.5), tf.mul(hardLoss, batch.hardWeight ?? 1));
    if (!batch.uniformityWeight) return contrastive as tf.Scalar;
    return tf.add(contrastive, tf.mul(uniformity(txt), batch.uniformityWeight)) as tf.Scalar;
  });
}
