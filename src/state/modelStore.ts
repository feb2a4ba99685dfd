import * as tf from '@tensorflow/tfjs';
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import { CATALOG, catalogEntry, DEFAULT_CLIP_ID, DEFAULT_MLLM_ID, sourceFor, type EngineKind, type ModelRole } from '../models/catalog';
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
  /**
   * 'loading' while a load runs (the model loaded before stays in use until the new one is ready), 'ready' while
   * a model is loaded, 'error' when the last load failed and no model is loaded.
   */
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** What is loaded, in words ('' when nothing is). */
  label: string;
  /** What is being loaded, or what the last load tried to load when it failed. */
  target: string | null;
  files: Record<string, FileLoad>;
  /** Why the last load failed; cleared when a load succeeds. */
  error: string | null;
  /** Something the user should know about a loaded model, e.g. a device fallback. */
  notice: string | null;
  /** Where the loaded model runs: an ONNX Runtime device, or TF.js' backend. */
  device: string | null;
  handle: T | null;
  /** The picker's choice and engine when the loaded model was loaded: a failed load puts the pickers back. */
  picked: { choice: string; engine: EngineKind } | null;
}

/** Where to load from: a catalog entry, any hub repo id, or the files of a folder the user picked. */
export type ModelOrigin = { entryId: string } | { hubId: string } | { files: File[]; name: string };

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

const emptySlot = <T>(): ModelSlot<T> => ({ status: 'idle', label: '', target: null, files: {}, error: null, notice: null, device: null, handle: null, picked: null });

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
  const source = sourceFor(entry, endpoint);
  return { source, label: entry.label, dtype: entry.dtype };
}

type PersistedPickers = Pick<ModelState, 'mllmChoice' | 'mllmEngine' | 'clipChoice' | 'hubEndpoint'>;

/** The pickers' saved form; version 2 made the sandbox models the defaults. */
const PICKERS_VERSION = 2;
/** The defaults before version 2: a picker saved on one of them was not a choice, and moves to today's default. */
const FORMER_DEFAULTS: Record<ModelRole, string> = { mllm: 'tiny-smolvlm', clip: 'tiny-clip' };

/**
 * Pickers as saved by this or an older version (`version`), made valid: a choice the catalog has no model of that
 * role for (or, before version 2, a former default) becomes today's default, and an engine the choice cannot run
 * its first engine. So a stale localStorage never names a model the panel cannot show.
 */
export function restorePickers(saved: Partial<PersistedPickers>, version: number): Partial<PersistedPickers> {
  const choice = (role: ModelRole, id: string | undefined, fallback: string) =>
    id && !(version < PICKERS_VERSION && id === FORMER_DEFAULTS[role]) && CATALOG.some((e) => e.id === id && e.role === role) ? id : fallback;
  const mllmChoice = choice('mllm', saved.mllmChoice, DEFAULT_MLLM_ID);
  const engines = catalogEntry(mllmChoice).engines;
  return {
    ...saved,
    mllmChoice,
    mllmEngine: saved.mllmEngine && engines.includes(saved.mllmEngine) ? saved.mllmEngine : engines[0],
    clipChoice: choice('clip', saved.clipChoice, DEFAULT_CLIP_ID),
  };
}

export const useModels = create<ModelState>()(
  persist(
    (set, get) => ({
      mllmChoice: DEFAULT_MLLM_ID,
      mllmEngine: catalogEntry(DEFAULT_MLLM_ID).engines[0],
      clipChoice: DEFAULT_CLIP_ID,
      hubEndpoint: DEFAULT_HUB_ENDPOINT,
      mllm: emptySlot(),
      clip: emptySlot(),
      setChoice: (role, id) => set(role === 'mllm' ? { mllmChoice: id } : { clipChoice: id }),
      setEngine: (engine) => set({ mllmEngine: engine }),
      setHubEndpoint: (endpoint) => set({ hubEndpoint: endpoint.replace(/\/+$/, '') || DEFAULT_HUB_ENDPOINT }),
      load: async (role, origin) => {
        const slotKey = role;
        const update = (patch: Partial<ModelSlot<unknown>>) =>
          set((state) => ({ [slotKey]: { ...state[slotKey], ...patch } }) as Partial<ModelState>);
        const onFile = (file: string, loaded: number, total: number) =>
          set((state) => ({
            [slotKey]: { ...state[slotKey], files: { ...state[slotKey].files, [file]: { loaded, total } } },
          }) as Partial<ModelState>);
        const picked = { choice: role === 'mllm' ? get().mllmChoice : get().clipChoice, engine: get().mllmEngine };
        const previous = get()[slotKey].handle;
        let target = 'hubId' in origin ? origin.hubId : 'files' in origin ? origin.name : origin.entryId;
        update({ status: 'loading', target, files: {}, error: null });
        try {
          const { source, label, dtype } = originSource(origin, get().hubEndpoint);
          target = label;
          update({ target });
          const loaded = async (): Promise<Pick<ModelSlot<unknown>, 'handle' | 'device' | 'notice'>> => {
            if (role === 'clip') {
              const scorer = await loadClipScorer(source, {
                dtype: typeof dtype === 'string' ? dtype : 'fp32',
                onProgress: (p) => onFile(p.file, p.perFile[p.file]?.loaded ?? 0, p.perFile[p.file]?.total ?? 0),
              });
              return { handle: scorer, device: scorer.device, notice: scorer.fallbackReason && `Running on ${scorer.device}: ${scorer.fallbackReason}` };
            }
            if (picked.engine === 'onnx') {
              const engine = await loadOnnxEngine(source, {
                dtype,
                onProgress: (p) => onFile(p.file, p.perFile[p.file]?.loaded ?? 0, p.perFile[p.file]?.total ?? 0),
              });
              return { handle: engine, device: engine.device, notice: engine.fallbackReason && `Running on ${engine.device}: ${engine.fallbackReason}` };
            }
            const engine = await loadTfjsEngine(source, { onProgress: (p) => onFile(p.file, p.loaded, p.total) });
            return { handle: engine, device: `TF.js ${tf.getBackend()}`, notice: null };
          };
          const next = await loaded();
          update({ ...next, status: 'ready', label, target: null, error: null, picked });
          previous?.dispose();
        } catch (err) {
          // The model loaded before keeps working, and the pickers name it again.
          const kept = get()[slotKey];
          update({ status: kept.handle ? 'ready' : 'error', target, error: describeLoadFailure(err) });
          if (kept.picked) {
            set(role === 'mllm' ? { mllmChoice: kept.picked.choice, mllmEngine: kept.picked.engine } : { clipChoice: kept.picked.choice });
          }
        }
      },
    }),
    {
      name: 'aspo-workbench/models',
      version: PICKERS_VERSION,
      partialize: (s) => ({ mllmChoice: s.mllmChoice, mllmEngine: s.mllmEngine, clipChoice: s.clipChoice, hubEndpoint: s.hubEndpoint }),
      migrate: (persisted, version) => restorePickers((persisted ?? {}) as Partial<PersistedPickers>, version),
      merge: (persisted, current) => ({ ...current, ...restorePickers((persisted ?? {}) as Partial<PersistedPickers>, PICKERS_VERSION) }),
    },
  ),
);
