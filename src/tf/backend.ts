import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { installOurWasmKernels } from './wasmKernels';

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** How TF.js' WASM backend runs here, once it has started. */
export interface WasmInfo {
  /** XNNPACK's thread pool: more than 1 only where SharedArrayBuffer exists, i.e. the page is cross-origin isolated. */
  threads: number;
  simd: boolean;
  crossOriginIsolated: boolean;
}

export interface BackendChoice {
  backend: BackendName;
  /** Why this backend runs: shown to the user, since a silent fallback to CPU looks like a slow app. */
  reason: string;
  /** Why each faster backend was passed over, in order tried. */
  skipped: { backend: BackendName; why: string }[];
  /** Set when the backend is WASM. */
  wasm?: WasmInfo;
}

// Left alone, tfjs-backend-wasm fetches its binaries from next to its script, which a bundle does not have (or,
// as its README suggests, from a CDN). The build copies all three into our assets; the backend picks one by the
// SIMD and thread support it finds. Set at import, before anything (the harness included) can start the backend.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
});
installOurWasmKernels();

// tfjs-backend-wasm's own default, and cap, is half the logical cores: one thread on a 2-core machine. One per
// logical core instead (scripts/lib/tfjsWasmThreads.ts lifts the cap), up to the 8 workers the threaded build starts
// up front: a thread beyond those would need a worker started while the calling thread waits for it, which a browser
// cannot do. Where the page is not isolated the backend runs on one thread whatever this says.
const WASM_MAX_THREADS = 8;
if (globalThis.crossOriginIsolated === true) {
  setThreadsCount(Math.max(1, Math.min(WASM_MAX_THREADS, globalThis.navigator?.hardwareConcurrency ?? 1)));
}

/** Threads and SIMD of the running WASM backend; throws when it has not started. */
export async function wasmInfo(): Promise<WasmInfo> {
  const threads = getThreadsCount();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return { threads, simd, crossOriginIsolated: globalThis.crossOriginIsolated === true };
}

function describeWasm(w: WasmInfo): string {
  const threads = `${w.threads} thread${w.threads === 1 ? '' : 's'}`;
  const why = w.crossOriginIsolated ? '' : ': the page is not cross-origin isolated, so WebAssembly cannot share memory between threads';
  return `${threads}${why}, SIMD ${w.simd ? 'on' : 'off'}`;
}

async function webgpuUnavailable(): Promise<string | null> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return 'this browser exposes no navigator.gpu (WebGPU is off or unsupported)';
  try {
    const adapter = await gpu.requestAdapter();
    return adapter ? null : 'navigator.gpu.requestAdapter() returned no adapter';
  } catch (err) {
    return `requesting a WebGPU adapter failed: ${(err as Error).message}`;
  }
}

/** Why TF.js' WebGL backend could not start, when the cause is that there is no WebGL at all (it only logs that). */
function webglUnavailable(): string | null {
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : globalThis.document?.createElement('canvas');
  if (canvas?.getContext('webgl2') || canvas?.getContext('webgl')) return null;
  return 'this browser gives no WebGL context (WebGL is off, blocked for this GPU, or unsupported)';
}

async function trySetBackend(name: BackendName): Promise<string | null> {
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return (name === 'webgl' ? webglUnavailable() : null) ?? `tf.setBackend('${name}') failed`;
    await tf.ready();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

let chosen: Promise<BackendChoice> | null = null;

/** WebGPU first, then WebGL, then WASM, then CPU; the first call decides and later calls share its answer. */
export function initBackend(preferred: readonly BackendName[] = BACKEND_ORDER): Promise<BackendChoice> {
  chosen ??= (async () => {
    const skipped: BackendChoice['skipped'] = [];
    for (const name of preferred) {
      const why = (name === 'webgpu' ? await webgpuUnavailable() : null) ?? (await trySetBackend(name));
      if (why === null) {
        const wasm = name === 'wasm' ? await wasmInfo() : undefined;
        const how = wasm ? `, ${describeWasm(wasm)}` : '';
        const reason = skipped.length
          ? `${name}${how} (fell back: ${skipped.map((s) => `${s.backend} — ${s.why}`).join('; ')})`
          : `${name}${how} (the fastest backend available)`;
        return { backend: name, reason, skipped, wasm };
      }
      skipped.push({ backend: name, why });
    }
    throw new Error(`No TF.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.why}`).join('; ')}`);
  })();
  return chosen;
}
