import * as tf from '@tensorflow/tfjs';

export type TestBackend = 'wasm' | 'cpu' | 'webgpu';

const TEST_BACKENDS: readonly TestBackend[] = ['wasm', 'cpu', 'webgpu'];

function nodeTestBackend(): TestBackend {
  const asked = process.env.ASPO_TEST_BACKEND;
  if (asked === undefined || asked === '') return 'wasm';
  if (!(TEST_BACKENDS as readonly string[]).includes(asked)) {
    throw new Error(`ASPO_TEST_BACKEND=${asked} is not a TF.js backend the tests run on; use one of ${TEST_BACKENDS.join(', ')}`);
  }
  return asked as TestBackend;
}

/**
 * The TF.js backend a test file runs on. Under Node: WASM, the command line's default, unless ASPO_TEST_BACKEND
 * names another (the `node-cpu` project runs the method tests on `cpu`, the tab's last fallback). In Chromium
 * (vitest's browser project): WebGPU, so one suite checks both.
 */
export const TEST_BACKEND: TestBackend = typeof window === 'undefined' ? nodeTestBackend() : 'webgpu';

/** Switches TF.js to `name`: in Node through the command line's own switch, so tests start backends as it does. */
export async function switchBackend(name: TestBackend): Promise<void> {
  if (typeof window === 'undefined') {
    // Not imported at the top: the browser project loads this file too, and the Node switch reads node:fs.
    const { startNodeBackend } = await import('../../scripts/lib/nodeBackend');
    await startNodeBackend(name);
  } else {
    if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
    // The tab's backend module registers WASM with the app's own binaries (setWasmPaths), as the page does.
    if (name === 'wasm') await import('../../src/tf/backend');
    if (!(await tf.setBackend(name))) throw new Error(`TF.js backend ${name} could not start in this browser`);
    await tf.ready();
  }
  if (tf.getBackend() !== name) throw new Error(`TF.js runs on ${tf.getBackend()}, not ${name}`);
}

export function useTestBackend(): Promise<void> {
  return switchBackend(TEST_BACKEND);
}
