/**
 * Two kernels of tfjs-backend-wasm 4.22 replaced by our own, in the tab and in Node (installed where the backend is
 * imported: src/tf/backend.ts, scripts/lib/nodeBackend.ts). Same results; what changes is memory and speed.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Identity shares its input's data under a reference count, as the CPU and WebGPU backends and WASM's own Reshape
 * do. WASM's copies it, and autodiff keeps every tensor an op saves for its gradient as a clone (tfjs-core's engine:
 * `keep(clone(x))`, an Identity), so a training step held a second copy of every weight matrix it multiplied and of
 * every activation it saved: on the SmolVLM-256M shape the 4 GiB heap ran out at 2 × 129 tokens.
 */
function shareIdentity(): void {
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

/**
 * BatchMatMul with a transposed operand runs the plain product on an explicit transpose. WASM's own kernel hands
 * XNNPACK only untransposed operands and multiplies the others in a slow loop: on 256M-shaped layers, x·Wᵀ (every
 * linear of the model, which keeps Hugging Face's [out, in] weights) ran 12× slower than x·W, and xᵀ·dy (every
 * weight gradient) 20× slower, while transposing W costs less than one product.
 */
function transposeBeforeMatMul(): void {
  const plain = tf.getKernel(tf.BatchMatMul, 'wasm')!;
  const transpose = tf.getKernel(tf.Transpose, 'wasm')!;
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel({
    ...plain,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
      if (!transposeA && !transposeB) return plain.kernelFunc({ inputs, backend, attrs });
      const wasm = backend as BackendWasm;
      const swapLast = (x: tf.TensorInfo) => {
        const perm = x.shape.map((_, i) => i);
        [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
        return transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
      };
      const a = inputs.a as tf.TensorInfo;
      const b = inputs.b as tf.TensorInfo;
      const at = transposeA ? swapLast(a) : a;
      const bt = transposeB ? swapLast(b) : b;
      const out = plain.kernelFunc({ inputs: { a: at, b: bt }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      if (at !== a) wasm.disposeData(at.dataId);
      if (bt !== b) wasm.disposeData(bt.dataId);
      return out;
    },
  });
}

export function installOurWasmKernels(): void {
  shareIdentity();
  transposeBeforeMatMul();
}
