/**
 * The adaptive sentence weights of `adaptiveWeights` as TF.js ops on the policy's own log-probs, detached. It lets
 * a training step compute the weights inside its single forward pass instead of running the policy twice (once
 * without gradient to read the weights, once with it), which keeps an ASPO step as cheap as a DPO step.
 */
import * as tf from '@tensorflow/tfjs';
import { minMaxNormalize } from './weights';

/**
 * `w_i = α·Ŝ_i + (1 − α)·P̂_i` from per-token log-probs: `PPL_i = exp(−mean_{t∈s_i} ℓ_t)` (1 for a sentence
 * without tokens), `P̂` its negated min-max (0 when all are equal), `Ŝ` the min-max of the similarities.
 * The same numbers as `adaptiveWeights(similarity, sentencePerplexity(logps, …), alpha).weight`, in float32.
 */
export function sentenceWeightsTf(
  similarity: number[],
  tokenLogps: tf.Tensor1D,
  tokenSentence: number[],
  alpha: number,
): tf.Tensor1D {
  const sentences = similarity.length;
  if (tokenSentence.length !== tokenLogps.shape[0]) {
    throw new RangeError(`tokenLogps has ${tokenLogps.shape[0]} tokens but tokenSentence has ${tokenSentence.length}`);
  }
  const counts = similarity.map((_, i) => tokenSentence.filter((s) => s === i).length);
  // membership[i][t] = 1 when token t belongs to sentence i: per-sentence sums as one matrix product.
  const membership = new Float32Array(sentences * tokenSentence.length);
  tokenSentence.forEach((s, t) => (membership[s * tokenSentence.length + t] = 1));
  const simNorm = minMaxNormalize(similarity);
  const shape = tokenLogps.shape;
  // Computed inside a custom op's forward pass, which TF.js does not record: backprop meets neither the
  // comparisons (which have no gradient) nor the weights (which carry none).
  const op = tf.customGrad((logps) => ({
    value: tf.tidy(() => {
      const sums = tf.matMul(tf.tensor2d(membership, [sentences, tokenSentence.length]), (logps as tf.Tensor1D).reshape([-1, 1])).reshape([sentences]);
      const n = tf.tensor1d(counts);
      const perplexity = tf.where(tf.greater(n, 0), tf.exp(tf.neg(tf.div(sums, tf.maximum(n, 1)))), tf.onesLike(sums));
      const max = tf.max(perplexity);
      const range = tf.sub(max, tf.min(perplexity));
      const pplNorm = tf.where(tf.greater(range, 0), tf.div(tf.sub(max, perplexity), tf.maximum(range, 1e-30)), tf.zerosLike(perplexity));
      return tf.clipByValue(tf.add(tf.mul(alpha, tf.tensor1d(simNorm)), tf.mul(1 - alpha, pplNorm)), 0, 1);
    }),
    gradFunc: () => tf.zeros(shape),
  }));
  return op(tokenLogps) as tf.Tensor1D;
}
