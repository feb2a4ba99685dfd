/**
 * Autodiff keeps every tensor an op saves for its gradient as a clone (tfjs-core's engine: `keep(clone(x))`, an
 * Identity kernel), and tfjs-backend-wasm 4.22's Identity copies the data. So on WASM a training step held a second
 * copy of every weight matrix it multiplied and of every activation it saved: on the SmolVLM-256M shape the 4 GiB
 * heap ran out at 2 × 129 tokens. The CPU and WebGPU backends share the data under a reference count instead, as
 * WASM's own Reshape kernel does; this Identity does the same.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export function shareIdentityOnWasm(): void {
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as BackendWasm).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}
