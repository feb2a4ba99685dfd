/**
 * Supervised fine-tuning with teacher forcing: the negative log-likelihood of each example's answer tokens (its
 * end-of-turn token included) given its image and prompt, averaged over every answer token of the batch. This is
 * how the sandbox VLM learns the world from scratch (scripts/sandbox-models/smolvlm.ts), in full-weight mode
 * (`loadTrainableTfjsModel`): the gradient reaches the vision tower through `pixelValues`.
 *
 *   lp[b, t] = log π(ids[b, t+1] | image_b, ids[b, ≤t])                     [B, T−1]
 *   loss     = −Σ_b Σ_{t ∈ answer_b} lp[b, t−1] / Σ_b |answer_b|
 *
 * Each row has one image; rows are right-padded (the attention mask hides the padding).
 */
import * as tf from '@tensorflow/tfjs';
import type { Idefics3Model } from '../models/tfjs/idefics3';

export interface SftRow {
  /** the templated prompt's ids, image tokens expanded (the processor's `input_ids`) */
  promptIds: number[];
  /** the answer's ids as teacher forcing scores them (`tokenizeResponse`), end-of-turn included */
  answerIds: number[];
}

/** The batch's SFT loss (see the module comment); `pixelValues` [B, C, H, W] holds row b's image at b. */
export function sftLoss(model: Idefics3Model, rows: readonly SftRow[], pixelValues: tf.Tensor4D): tf.Scalar {
  if (rows.length === 0) throw new Error('an SFT batch needs at least one row');
  if (pixelValues.shape[0] !== rows.length) throw new Error(`an SFT batch of ${rows.length} rows was given ${pixelValues.shape[0]} images`);
  const width = Math.max(...rows.map((r) => r.promptIds.length + r.answerIds.length));
  const inputIds = rows.map((r) => [...r.promptIds, ...r.answerIds, ...new Array<number>(width - r.promptIds.length - r.answerIds.length).fill(0)]);
  const attentionMask = rows.map((r) => inputIds[0].map((_, t) => (t < r.promptIds.length + r.answerIds.length ? 1 : 0)));
  const mask = new Float32Array(rows.length * (width - 1));
  let answerTokens = 0;
  rows.forEach((r, b) => {
    if (r.answerIds.length === 0) throw new Error(`SFT row ${b} has no answer tokens`);
    // Answer token k sits at promptLen + k and is predicted at promptLen + k − 1.
    for (let k = 0; k < r.answerIds.length; k++) mask[b * (width - 1) + r.promptIds.length + k - 1] = 1;
    answerTokens += r.answerIds.length;
  });
  return tf.tidy(() => {
    const lp = model.tokenLogprobs({ inputIds, attentionMask, pixelValues });
    return tf.div(tf.neg(tf.sum(tf.mul(lp, tf.tensor2d(mask, [rows.length, width - 1])))), answerTokens) as tf.Scalar;
  });
}
