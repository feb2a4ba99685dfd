/**
 * The Idefics3 connector (`model.connector`): pixel shuffle, then a linear
 * projection into the language model's embedding space.
 *
 *   [N, S, D]  --pixel_shuffle(s)-->  [N, S/s², D·s²]  --modality_projection.proj (no bias)-->  [N, S/s², D_text]
 *
 * Pixel shuffle (space-to-depth) merges each s×s neighbourhood of patch
 * features into one token. It follows Idefics3Connector.pixel_shuffle step by
 * step (the order of the views and permutes decides which channels end up where):
 *
 *   x.view(N, h, w, D)                      h = w = √S
 *    .view(N, h, w/s, D·s)                  merge s horizontal neighbours
 *    .permute(0, 2, 1, 3)                   → (N, w/s, h, D·s)
 *    .reshape(N, w/s, h/s, D·s²)            merge s vertical neighbours
 *    .permute(0, 2, 1, 3)                   → (N, h/s, w/s, D·s²)
 *    .reshape(N, S/s², D·s²)
 */
import * as tf from '@tensorflow/tfjs';
import type { Linear } from './lora';

export function pixelShuffle(x: tf.Tensor3D, scaleFactor: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, seq, d] = x.shape;
    const side = Math.round(Math.sqrt(seq));
    const s = scaleFactor;
    if (side * side !== seq) throw new Error(`pixel shuffle: ${seq} patches do not form a square grid`);
    if (side % s !== 0) throw new Error(`pixel shuffle: grid side ${side} is not divisible by scale_factor ${s}`);
    return x
      .reshape([n, side, side / s, d * s])
      .transpose([0, 2, 1, 3])
      .reshape([n, side / s, side / s, d * s * s])
      .transpose([0, 2, 1, 3])
      .reshape([n, seq / (s * s), d * s * s]) as tf.Tensor3D;
  });
}

export class Idefics3Connector {
  constructor(
    readonly scaleFactor: number,
    /** modality_projection.proj: [D_text, D_vision·s²], no bias */
    readonly proj: Linear,
  ) {}

  /** vision last_hidden_state [N, S, D_vision] → image features [N, S/s², D_text] */
  forward(visionHidden: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => this.proj.apply(pixelShuffle(visionHidden, this.scaleFactor), false));
  }
}
