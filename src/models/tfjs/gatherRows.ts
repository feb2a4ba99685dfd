import * as tf from '@tensorflow/tfjs';

/**
 * `tf.gather(table, ids)` along axis 0, the same kernel and so the same numbers, with a gradient that every
 * backend has. gather's own gradient is UnsortedSegmentSum, which the WASM backend lacks; here the rows of dy are
 * added into a zero table at their ids with scatterND, which sums repeated ids on every backend (cpu, wasm,
 * webgpu and webgl). The ids are plain numbers, captured as such: a tensor of them could be disposed by the
 * caller's tidy before backprop runs.
 */
export function gatherRows<R extends tf.Rank>(table: tf.Tensor, ids: Int32Array): tf.Tensor<R> {
  const shape = table.shape.slice();
  const op = tf.customGrad((x) => ({
    value: tf.gather(x as tf.Tensor, tf.tensor1d(ids, 'int32')),
    gradFunc: (dy: tf.Tensor) => tf.scatterND(tf.tensor2d(ids, [ids.length, 1], 'int32'), dy, shape),
  }));
  return op(table) as tf.Tensor<R>;
}
