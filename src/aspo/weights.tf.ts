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
 *
 * Written with as few kernels as the formula allows (each is a GPU dispatch, and on a small model a step is
 * dominated by their count): the token→sentence mean and its negation are one matrix product, and the
 * degenerate min-max needs no branch, since `max − PPL_i` is exactly 0 for every sentence when all are equal.
 */
export function sentenceWeightsTf(
  similarity: number[],
  tokenLogps: tf.Tensor1D,
  tokenSentence: number[],
  alpha: number,
): tf.Tensor1D {
  const sentences = similarity.length;
  const tokens = tokenSentence.length;
  if (tokens !== tokenLogps.shape[0]) {
    throw new RangeError(`tokenLogps has ${tokenLogps.shape[0]} tokens but tokenSentence has ${tokens}`);
  }
  const counts = similarity.map(() => 0);
  tokenSentence.forEach((s) => (counts[s] += 1));
  // negMean[i][t] = −1/n_i when token t belongs to sentence i: the product is −mean ℓ, i.e. log PPL_i, and 0
  // (PPL 1) for a sentence without tokens.
  const negMean = new Float32Array(sentences * tokens);
  tokenSentence.forEach((s, t) => (negMean[s * tokens + t] = -1 / counts[s]));
  const similarityTerm = minMaxNormalize(similarity).map((v) => alpha * v);
  const shape = tokenLogps.shape;
  // Computed inside a custom op's forward pass, which TF.js does not record: backprop meets neither the
  // min/max (whose gradient is not wanted) nor the weights (which carry none).
  const op = tf.customGrad((logps) => ({
    value: tf.tidy(() => {
      const perplexity = tf.exp(tf.matMul(tf.tensor2d(negMean, [sentences, tokens]), (logps as tf.Tensor1D).reshape([-1, 1])).reshape([sentences]));
      const max = tf.max(perplexity);
      const range = tf.sub(max, tf.min(perplexity));
      const pplNorm = tf.div(tf.sub(max, perplexity), tf.maximum(range, 1e-30));
      return tf.clipByValue(tf.add(tf.tensor1d(similarityTerm), tf.mul(1 - alpha, pplNorm)), 0, 1);
    }),
    gradFunc: () => tf.zeros(shape),
  }));
  return op(tokenLogps) as tf.Tensor1D;
}
