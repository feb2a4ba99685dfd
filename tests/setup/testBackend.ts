import * as tf from '@tensorflow/tfjs';

/**
 * The TF.js backend a test file runs on: the pure-JS CPU backend under Node, WebGPU when the same file runs in
 * Chromium (vitest's browser project), so one suite checks both.
 */
export const TEST_BACKEND: 'cpu' | 'webgpu' = typeof window === 'undefined' ? 'cpu' : 'webgpu';

export async function useTestBackend(): Promise<void> {
  if (TEST_BACKEND === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  await tf.setBackend(TEST_BACKEND);
  await tf.ready();
  if (tf.getBackend() !== TEST_BACKEND) throw new Error(`TF.js runs on ${tf.getBackend()}, not ${TEST_BACKEND}`);
}
