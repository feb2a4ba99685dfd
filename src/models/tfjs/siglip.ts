/**
 * The SigLIP vision tower of Idefics3 (`model.vision_model`), a plain pre-norm ViT:
 *
 *   patches   = Conv2d(C→D, kernel = stride = P)(pixels)          (here: unfold + matMul)
 *   h         = patches + position_embedding[position_ids]
 *   for each layer:
 *     h = h + out_proj(MHA(LayerNorm₁(h)))                         (q/k/v/out with biases)
 *     h = h + fc2(gelu_tanh(fc1(LayerNorm₂(h))))
 *   out       = post_layernorm(h)                                  [N, (H/P)·(W/P), D]
 *
 * Position ids follow Idefics3VisionEmbeddings: for an image of gh×gw patches the
 * fractional coordinates i/gh, j/gw are bucketed onto the (image_size/P)² grid of
 * learned positions; for a full-size image this is simply 0 … N−1.
 */
import * as tf from '@tensorflow/tfjs';
import type { VisionConfig } from '../config';
import { gatherRows } from './gatherRows';
import { Linear } from './lora';

export interface LayerNormWeights {
  weight: tf.Tensor1D;
  bias: tf.Tensor1D;
}

export interface SiglipLayer {
  layerNorm1: LayerNormWeights;
  qProj: Linear;
  kProj: Linear;
  vProj: Linear;
  outProj: Linear;
  layerNorm2: LayerNormWeights;
  fc1: Linear;
  fc2: Linear;
}

export interface SiglipWeights {
  /** [D, C, P, P] */
  patchWeight: tf.Tensor4D;
  /** [D] */
  patchBias: tf.Tensor1D;
  /** [(image_size/P)², D] */
  positionEmbedding: tf.Tensor2D;
  layers: SiglipLayer[];
  postLayernorm: LayerNormWeights;
}

/** LayerNorm over the last axis: (x − mean) / √(var + eps) · weight + bias (biased variance, as PyTorch). */
export function layerNorm<T extends tf.Tensor>(x: T, w: LayerNormWeights, eps: number): T {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), w.weight), w.bias) as T;
  });
}

/** GELU, tanh approximation (`gelu_pytorch_tanh`): ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner))) as T;
  });
}

/**
 * Position ids of a gh×gw patch grid, as Idefics3VisionEmbeddings computes them:
 * bucketize(arange(0, 1−1e-6, 1/g), boundaries = arange(1/n, 1, 1/n), right=True),
 * then row·n + col, with n = image_size / patch_size. Arithmetic is in float32 like torch.
 */
export function patchPositionIds(gh: number, gw: number, patchesPerSide: number): Int32Array {
  const f = Math.fround;
  const boundaries: number[] = [];
  const step = f(1 / patchesPerSide);
  for (let k = 1; ; k++) {
    const b = f(k * step);
    if (b >= 1) break;
    boundaries.push(b);
  }
  const bucket = (x: number): number => {
    let count = 0;
    for (const b of boundaries) if (b <= x) count++;
    return count;
  };
  const coords = (g: number): number[] => {
    const s = f(1 / g);
    const out: number[] = [];
    for (let i = 0; f(i * s) < 1 - 1e-6; i++) out.push(bucket(f(i * s)));
    return out;
  };
  const rows = coords(gh);
  const cols = coords(gw);
  const ids = new Int32Array(gh * gw);
  for (let i = 0; i < gh; i++) for (let j = 0; j < gw; j++) ids[i * gw + j] = rows[i] * patchesPerSide + cols[j];
  return ids;
}

export class SiglipVisionTransformer {
  readonly headDim: number;

  constructor(
    readonly config: VisionConfig,
    readonly weights: SiglipWeights,
  ) {
    this.headDim = config.hiddenSize / config.numHeads;
  }

  /** Conv2d(kernel = stride = P, valid) as unfold + matMul: [N, C, H, W] → [N, gh·gw, D] (row-major patches). */
  patchEmbed(pixelValues: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const [n, c, h, w] = pixelValues.shape;
      const p = this.config.patchSize;
      const gh = Math.floor(h / p);
      const gw = Math.floor(w / p);
      const cropped = h % p || w % p ? tf.slice(pixelValues, [0, 0, 0, 0], [n, c, gh * p, gw * p]) : pixelValues;
      // [N, C, gh, P, gw, P] → [N, gh, gw, C, P, P]: each patch flattened in (c, kh, kw) order, like the conv kernel.
      const patches = cropped
        .reshape([n, c, gh, p, gw, p])
        .transpose([0, 2, 4, 1, 3, 5])
        .reshape([n * gh * gw, c * p * p]);
      const kernel = this.weights.patchWeight.reshape([this.config.hiddenSize, c * p * p]);
      const emb = tf.add(tf.matMul(patches, kernel, false, true), this.weights.patchBias);
      return emb.reshape([n, gh * gw, this.config.hiddenSize]) as tf.Tensor3D;
    });
  }

  /** Patch embeddings plus learned position embeddings. */
  embeddings(pixelValues: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const [, c, h, w] = pixelValues.shape;
      if (c !== this.config.numChannels) {
        throw new Error(`SigLIP: pixel_values have ${c} channels, the model expects ${this.config.numChannels}`);
      }
      const p = this.config.patchSize;
      const side = this.config.imageSize / p;
      const gh = Math.floor(h / p);
      const gw = Math.floor(w / p);
      if (gh < 1 || gw < 1 || gh > side || gw > side) {
        throw new Error(`SigLIP: image of ${h}×${w} pixels gives a ${gh}×${gw} patch grid; at most ${side}×${side} is supported`);
      }
      const pos = gatherRows(this.weights.positionEmbedding, patchPositionIds(gh, gw, side));
      return tf.add(this.patchEmbed(pixelValues), pos) as tf.Tensor3D;
    });
  }

  /** Bidirectional multi-head self-attention with biases, scale 1/√head_dim. */
  attention(layer: SiglipLayer, x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t, d] = x.shape;
      const nh = this.config.numHeads;
      const hd = this.headDim;
      const heads = (y: tf.Tensor3D) => y.reshape([b, t, nh, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
      const q = heads(layer.qProj.apply(x, false));
      const k = heads(layer.kProj.apply(x, false));
      const v = heads(layer.vProj.apply(x, false));
      const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd));
      const probs = tf.softmax(scores, -1);
      const ctx = tf.matMul(probs, v).transpose([0, 2, 1, 3]).reshape([b, t, d]) as tf.Tensor3D;
      return layer.outProj.apply(ctx, false);
    });
  }

  mlp(layer: SiglipLayer, x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => layer.fc2.apply(geluTanh(layer.fc1.apply(x, false)), false));
  }

  /** One pre-norm encoder block. */
  block(layer: SiglipLayer, h: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const eps = this.config.layerNormEps;
      const a = tf.add(h, this.attention(layer, layerNorm(h, layer.layerNorm1, eps))) as tf.Tensor3D;
      return tf.add(a, this.mlp(layer, layerNorm(a, layer.layerNorm2, eps))) as tf.Tensor3D;
    });
  }

  /** pixel_values [N, C, H, W] → last_hidden_state [N, (H/P)·(W/P), D] (after post_layernorm). */
  forward(pixelValues: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      let h = this.embeddings(pixelValues);
      for (const layer of this.weights.layers) h = this.block(layer, h);
      return layerNorm(h, this.weights.postLayernorm, this.config.layerNormEps);
    });
  }
}
