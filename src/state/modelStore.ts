import * as tf from '@tensorflow/tfjs';
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import { catalogEntry, sourceFor, type EngineKind, type ModelRole } from '../models/catalog';
import { loadClipScorer, type ClipScorer } from '../models/clip';
import type { MllmEngine } from '../models/engine';
import { loadOnnxEngine } from '../models/onnx/engine';
import { describeLoadFailure } from '../models/loadErrors';
import { folderSource, hubSource, type ModelSource } from '../models/sources';
import { loadTfjsEngine } from '../models/tfjs/engine';

export interface FileLoad {
  loaded: number;
  total: number;
}

export interface ModelSlot<T> {
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** What is (being) loaded, in words. */
  label: string;
  files: Record<string, FileLoad>;
  error: string | null;
  /** Something the user should know about a loaded model, e.g. a device fallback. */
  notice: string | null;
  /** Where the loaded model runs: an ONNX Runtime device, or TF.js' backend. */
  device: string | null;
  handle: T | null;
}

/** Where to load from: a catalog entry, any hub repo id, or the files of a folder the user picked. */
export type ModelOrigin = { entryId: string } | { hubId: string } | { files: File[]; name: string };

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

const emptySlot = <T>(): ModelSlot<T> => ({ status: 'idle', label: '', files: {}, error: null, notice: null, device: null, handle: null });

interface ModelState {
  mllmChoice: string;
  mllmEngine: EngineKind;
  clipChoice: string;
  /** Where hub ids are downloaded from: the Hugging Face Hub, or a mirror with the same layout. */
  hubEndpoint: string;
  mllm: ModelSlot<MllmEngine>;
  clip: ModelSlot<ClipScorer>;
  setChoice: (role: ModelRole, id: string) => void;
  setEngine: (engine: EngineKind) => void;
  setHubEndpoint: (endpoint: string) => void;
  load: (role: ModelRole, origin: ModelOrigin) => Promise<void>;
}

function originSource(
  origin: ModelOrigin,
  endpoint: string,
): { source: ModelSource; label: string; dtype: ReturnType<typeof catalogEntry>['dtype'] } {
  if ('files' in origin) return { source: folderSource(origin.files, { label: origin.name }), label: origin.name, dtype: 'fp32' };
  if ('hubId' in origin) return { source: hubSource(origin.hubId, { endpoint }), label: origin.hubId, dtype: 'fp32' };
  const entry = catalogEntry(origin.entryId);
  const source = entry.origin === 'hub' ? hubSource(entry.path, { endpoint }) : sourceFor(entry, globalThis.location?.href ?? 'http://localhost/');
  return { source, label: entry.label, dtype: entry.dtype };
}

export const useModels = create<ModelState>()(
  persist(
    (set, get) => ({
      mllmChoice: 'tiny-smolvlm',
      mllmEngine: 'onnx',
      clipChoice: 'tiny-clip',
      hubEndpoint: DEFAULT_HUB_ENDPOINT,
      mllm: emptySlot(),
      clip: emptySlot(),
      setChoice: (role, id) => set(role === 'mllm' ? { mllmChoice: id } : { clipChoice: id }),
      setEngine: (engine) => set({ mllmEngine: engine }),
      setHubEndpoint: (endpoint) => set({ hubEndpoint: endpoint.replace(/\/+$/, '') || DEFAULT_HUB_ENDPOINT }),
      load: async (role, origin) => {
        const { source, label, dtype } = originSource(origin, get().hubEndpoint);
        const slotKey = role;
        const update = (patch: Partial<ModelSlot<unknown>>) =>
          set((state) => ({ [slotKey]: { ...state[slotKey], ...patch } }) as Partial<ModelState>);
        const onFile = (file: string, loaded: number, total: number) =>
          set((state) => ({
            [slotKey]: { ...state[slotKey], files: { ...state[slotKey].files, [file]: { loaded, total } } },
          }) as Partial<ModelState>);
        const previous = get()[slotKey].handle;
        update({ status: 'loading', label, files: {}, error: null, notice: null, device: null, handle: null });
        previous?.dispose();
        try {
          if (role === 'clip') {
            const scorer = await loadClipScorer(source, {
              dtype: typeof dtype === 'string' ? dtype : 'fp32',
              onProgress: (p) => onFile(p.file, p.perFile[p.file]?.loaded ?? 0, p.perFile[p.file]?.total ?? 0),
            });
            update({ status: 'ready', handle: scorer, device: scorer.device, notice: scorer.fallbackReason && `Running on ${scorer.device}: ${scorer.fallbackReason}` });
          } else if (get().mllmEngine === 'onnx') {
            const engine = await loadOnnxEngine(source, {
              dtype,
              onProgress: (p) => onFile(p.file, p.perFile[p.file]?.loaded ?? 0, p.perFile[p.file]?.total ?? 0),
            });
            update({ status: 'ready', handle: engine, device: engine.device, notice: engine.fallbackReason && `Running on ${engine.device}: ${engine.fallbackReason}` });
          } else {
            const engine = await loadTfjsEngine(source, { onProgress: (p) => onFile(p.file, p.loaded, p.total) });
            update({ status: 'ready', handle: engine, device: `TF.js ${tf.getBackend()}` });
          }
        } catch (err) {
          update({ status: 'error', error: describeLoadFailure(err) });
        }
      },
    }),
    {
      name: 'aspo-workbench/models',
      version: 1,
      partialize: (s) => ({ mllmChoice: s.mllmChoice, mllmEngine: s.mllmEngine, clipChoice: s.clipChoice, hubEndpoint: s.hubEndpoint }),
    },
  ),
);
