import * as tf from '@tensorflow/tfjs';

/**
 * The sum of same-shaped tensors. Not `tf.addN`: on TF.js' WebGPU backend it gave wrong sums for many inputs
 * (a constant gradient norm of 2 on every training step), so the sum is built from pairwise adds.
 */
export function sumTensors<T extends tf.Tensor>(tensors: T[]): T {
  if (tensors.length === 0) throw new Error('sumTensors needs at least one tensor');
  return tf.tidy(() => tensors.slice(1).reduce<tf.Tensor>((acc, t) => tf.add(acc, t), tensors[0].clone()) as T);
}
