/**
 * The Inspect tab's "Separation over held-out scenes": one run of the sandbox evaluation (src/state/sandbox) with
 * the loaded models at the tab's settings, its progress, its cancel, and its figures. Kept in memory: a run is
 * tied to the models loaded, which a reload unloads.
 */
import { create } from 'zustand';
import type { ClipScorer } from '../../models/clip';
import type { MllmEngine } from '../../models/engine';
import { HELD_OUT_SET } from '../../sandbox/splits';
import { evaluateSandbox, type SandboxEvalProgress, type SandboxEvaluation, type WeightSettings } from '../sandbox/evaluate';

export interface SeparationRequest {
  engine: MllmEngine;
  clip: ClipScorer;
  /** the models in words, kept with their figures */
  models: string;
  settings: WeightSettings;
  /** the first `scenes` of HELD_OUT_SET */
  scenes: number;
}

export interface SeparationState {
  status: 'idle' | 'running' | 'done' | 'cancelled' | 'error';
  progress: SandboxEvalProgress | null;
  /** the last finished run's figures, with what it ran on */
  result: { evaluation: SandboxEvaluation; models: string } | null;
  error: string | null;
  /** how many held-out scenes the next run takes */
  scenes: number;
  setScenes: (scenes: number) => void;
  run: (request: SeparationRequest) => Promise<void>;
  cancel: () => void;
}

let controller: AbortController | null = null;

export const useSeparation = create<SeparationState>()((set, get) => ({
  status: 'idle',
  progress: null,
  result: null,
  error: null,
  scenes: HELD_OUT_SET.length,
  setScenes: (scenes) => set({ scenes }),
  run: async ({ engine, clip, models, settings, scenes }) => {
    if (get().status === 'running') return;
    controller = new AbortController();
    set({ status: 'running', progress: { done: 0, total: scenes, stage: 'starting' }, error: null });
    try {
      const evaluation = await evaluateSandbox({
        engine,
        clip,
        scenes: HELD_OUT_SET.slice(0, scenes),
        settings,
        signal: controller.signal,
        onProgress: (progress) => set({ progress }),
      });
      set({ status: 'done', result: { evaluation, models } });
    } catch (err) {
      const cancelled = (err as Error).name === 'AbortError';
      set({ status: cancelled ? 'cancelled' : 'error', error: cancelled ? null : (err as Error).message });
    } finally {
      controller = null;
      set({ progress: null });
    }
  },
  cancel: () => controller?.abort(),
}));
