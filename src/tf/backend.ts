import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';

export type BackendName = 'webgpu' | 'webgl' | 'cpu';

export interface BackendChoice {
  backend: BackendName;
  /** Why this backend runs: shown to the user, since a silent fallback to CPU looks like a slow app. */
  reason: string;
  /** Why each faster backend was passed over, in order tried. */
  skipped: { backend: BackendName; why: string }[];
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

async function trySetBackend(name: BackendName): Promise<string | null> {
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') failed`;
    await tf.ready();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

let chosen: Promise<BackendChoice> | null = null;

/** WebGPU first, then WebGL, then CPU; the first call decides and later calls share its answer. */
export function initBackend(preferred: BackendName[] = ['webgpu', 'webgl', 'cpu']): Promise<BackendChoice> {
  chosen ??= (async () => {
    const skipped: BackendChoice['skipped'] = [];
    for (const name of preferred) {
      const why = (name === 'webgpu' ? await webgpuUnavailable() : null) ?? (await trySetBackend(name));
      if (why === null) {
        const reason = skipped.length
          ? `${name} (fell back: ${skipped.map((s) => `${s.backend} — ${s.why}`).join('; ')})`
          : `${name} (the fastest backend available)`;
        return { backend: name, reason, skipped };
      }
      skipped.push({ backend: name, why });
    }
    throw new Error(`No TF.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.why}`).join('; ')}`);
  })();
  return chosen;
}
