// Renamed: the React hooks lint rule takes any use* function for a hook.
import { DEFAULT_NODE_BACKEND, isNodeBackend, NODE_BACKENDS, startNodeBackend, type NodeBackend } from '../lib/nodeBackend';
import { UsageError } from './args';

/** What computed a command's numbers, as its JSON output (and train's run.json) records it. */
export interface BackendRecord {
  /** the TF.js backend (wasm, cpu, webgpu), or onnxruntime-node */
  name: string;
  /** WASM: the threads XNNPACK runs on */
  threads?: number;
  /** WebGPU: the adapter Dawn found */
  adapter?: string;
}

/** Where the numbers come from ONNX Runtime: `--engine onnx`, and CLIP in `similarity`. */
export const ONNX_RUNTIME: BackendRecord = { name: 'onnxruntime-node' };

export const BACKEND_OPTION = { backend: { type: 'string' } } as const;

export const BACKEND_USAGE = `--backend ${NODE_BACKENDS.join('|')}`;

/** The usage text's paragraph on --backend, indented as the commands' usage is. */
export const BACKEND_HELP = `--backend is TF.js' backend (default ${DEFAULT_NODE_BACKEND}): wasm WebAssembly with SIMD (XNNPACK, one thread in Node),
      cpu plain JavaScript (the slowest), webgpu Dawn (the machine's GPU, or SwiftShader's Vulkan without one).`;

/** --backend, checked: one of NODE_BACKENDS, DEFAULT_NODE_BACKEND when not given. */
export function backendOption(values: Record<string, unknown>): NodeBackend {
  const value = values.backend;
  if (value === undefined) return DEFAULT_NODE_BACKEND;
  if (typeof value !== 'string' || !isNodeBackend(value)) {
    throw new UsageError(`--backend must be one of ${NODE_BACKENDS.join(', ')}, got "${String(value)}"`);
  }
  return value;
}

/** Refuses --backend where TF.js computes nothing, rather than accepting an option that would change nothing. */
export function refuseBackend(values: Record<string, unknown>, what: string): void {
  if (values.backend !== undefined) {
    throw new UsageError(`--backend chooses TF.js' backend, and ${what} runs on ONNX Runtime (onnxruntime-node, on the CPU) instead; leave out --backend`);
  }
}

/** Switches TF.js to `name` and says what the output records of it. */
export async function startBackend(name: NodeBackend): Promise<BackendRecord> {
  const info = await startNodeBackend(name);
  return {
    name: info.backend,
    ...(info.threads !== null ? { threads: info.threads } : {}),
    ...(info.adapter !== null ? { adapter: info.adapter } : {}),
  };
}
