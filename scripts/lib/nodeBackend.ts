/**
 * The TF.js backend of everything that runs in Node (the command line, the unit tests, the benchmarks): WASM by
 * default, the pure-JS CPU backend as the fallback the tab also has, or WebGPU through Dawn (the `webgpu` npm
 * package: the real GPU on a machine with one, SwiftShader's Vulkan elsewhere).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { installOurWasmKernels } from '../../src/tf/wasmKernels';

installOurWasmKernels();

export const NODE_BACKENDS = ['wasm', 'cpu', 'webgpu'] as const;
export type NodeBackend = (typeof NODE_BACKENDS)[number];
export const DEFAULT_NODE_BACKEND: NodeBackend = 'wasm';

export function isNodeBackend(name: string): name is NodeBackend {
  return (NODE_BACKENDS as readonly string[]).includes(name);
}

export interface NodeBackendInfo {
  backend: NodeBackend;
  /** WASM: the threads XNNPACK runs on (1 in Node: tfjs-backend-wasm 4.22 turns threads off there, tfjs#3830) */
  threads: number | null;
  /** WebGPU: the adapter's description (SwiftShader without a GPU) */
  adapter: string | null;
}

// Debian's chromium ships SwiftShader's Vulkan driver; Dawn finds it through the Vulkan loader (libvulkan1).
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

async function installDawn(): Promise<string> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    throw new Error(
      'WebGPU in Node found no adapter: Dawn needs a Vulkan driver (a GPU driver, or SwiftShader: `apt-get install libvulkan1 chromium`, ' +
        `VK_ICD_FILENAMES=${SWIFTSHADER_ICD}); use --backend wasm instead`,
    );
  }
  Object.defineProperty(globalThis, 'navigator', { value: { ...globalThis.navigator, gpu }, configurable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  const info = adapter.info;
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
}

let dawnAdapter: Promise<string> | null = null;

/** Switches TF.js to `name` (and waits until it is ready); throws with the reason when it cannot start. */
export async function startNodeBackend(name: NodeBackend): Promise<NodeBackendInfo> {
  let adapter: string | null = null;
  if (name === 'webgpu') adapter = await (dawnAdapter ??= installDawn());
  if (!(await tf.setBackend(name))) throw new Error(`TF.js backend ${name} could not start (see the message above)`);
  await tf.ready();
  return { backend: name, threads: name === 'wasm' ? getThreadsCount() : null, adapter };
}
