/**
 * Training checkpoints in IndexedDB (the plain API, no wrapper package): one record per run, overwritten at
 * every save, holding the Trainer's checkpoint (adapters, Adam moments, data order, history) and what is needed
 * to rebuild the trainer after a reload (the model and the training pairs). Works in a Worker and in a window.
 *
 * The same TrainerCheckpoint also travels as one safetensors file (the command line's run folders), by
 * `checkpointToSafetensors` / `checkpointFromSafetensors`.
 */
import type { PreferencePair } from '../data/pairs';
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor } from '../models/safetensors';
import type { TrainerCheckpoint } from './checkpoint';

export const CHECKPOINT_DB = 'aspo-workbench-train';
export const CHECKPOINT_STORE = 'checkpoints';
const DB_VERSION = 1;

/**
 * The model a run trains: a catalog entry (bundled, or from the hub endpoint the user chose) or a folder the user
 * picked (not reloadable by itself).
 */
export type ModelSpec =
  | { kind: 'catalog'; entryId: string; /** for a hub entry: the endpoint chosen when the run was made */ hubEndpoint?: string }
  | { kind: 'folder'; name: string };

/** The training data of a run: the bundled sandbox, or pairs given by the page (images as data URLs). */
export type DataSpec = { kind: 'sandbox'; /** the first `count` of the 24 training pairs (default all) */ count?: number } | { kind: 'pairs'; pairs: PreferencePair[]; images: Record<string, string> };

export interface CheckpointRecord {
  runId: string;
  savedAt: number;
  /** steps done when saved (= checkpoint.step) */
  step: number;
  model: ModelSpec;
  data: DataSpec;
  checkpoint: TrainerCheckpoint;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

let opening: Promise<IDBDatabase> | null = null;

function openDb(factory: IDBFactory = globalThis.indexedDB): Promise<IDBDatabase> {
  if (!factory) return Promise.reject(new Error('IndexedDB is not available here; checkpoints cannot be saved'));
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory.open(CHECKPOINT_DB, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(CHECKPOINT_STORE)) db.createObjectStore(CHECKPOINT_STORE, { keyPath: 'runId' });
    };
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => {
        db.close();
        opening = null;
      };
      resolve(db);
    };
    req.onerror = () => {
      opening = null;
      reject(req.error ?? new Error('opening IndexedDB failed'));
    };
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version open'));
  });
  return opening;
}

async function withStore<T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  const tx = db.transaction(CHECKPOINT_STORE, mode);
  const result = request(body(tx.objectStore(CHECKPOINT_STORE)));
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted (storage full?)'));
  });
  return result;
}

/** Saves (replaces) the run's checkpoint. */
export async function saveCheckpoint(record: CheckpointRecord): Promise<void> {
  await withStore('readwrite', (s) => s.put(record));
}

/** The run's last checkpoint, or null when it has none. */
export async function loadCheckpoint(runId: string): Promise<CheckpointRecord | null> {
  const r = await withStore<CheckpointRecord | undefined>('readonly', (s) => s.get(runId) as IDBRequest<CheckpointRecord | undefined>);
  return r ?? null;
}

export async function deleteCheckpoint(runId: string): Promise<void> {
  await withStore('readwrite', (s) => s.delete(runId));
}

/** Run ids with a checkpoint, and the step each was saved at. */
export async function listCheckpoints(): Promise<{ runId: string; step: number; savedAt: number }[]> {
  const all = await withStore<CheckpointRecord[]>('readonly', (s) => s.getAll() as IDBRequest<CheckpointRecord[]>);
  return all.map((r) => ({ runId: r.runId, step: r.step, savedAt: r.savedAt }));
}

/** `__metadata__` key holding everything of a TrainerCheckpoint but its tensors, as JSON. */
const CHECKPOINT_METADATA_KEY = 'aspo-trainer-checkpoint';
const MOMENT_PREFIX = { m: 'optimizer.m.', v: 'optimizer.v.' } as const;

/**
 * JSON has no NaN or ±Infinity, and the history of a run with skipped steps holds them; they are written as
 * `{ "$nonFinite": "NaN" }` so that a checkpoint read back equals the one written.
 */
function encodeNonFinite(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? { $nonFinite: String(value) } : value;
}

function decodeNonFinite(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const tag = (value as { $nonFinite?: unknown }).$nonFinite;
    if (keys.length === 1 && (tag === 'NaN' || tag === 'Infinity' || tag === '-Infinity')) return Number(tag);
  }
  return value;
}

/**
 * A checkpoint as one safetensors file: the adapters under their PEFT names, the Adam moments under
 * `optimizer.m.<name>` / `optimizer.v.<name>` (all F32, so they read back bit for bit), the rest (step, settings,
 * data fingerprint, data order, Adam's update count, history) as JSON in `__metadata__`.
 */
export function checkpointToSafetensors(ckpt: TrainerCheckpoint): Uint8Array {
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, a] of Object.entries(ckpt.adapters)) {
    tensors[name] = { dtype: 'F32', shape: a.shape, data: a.data };
    for (const part of ['m', 'v'] as const) tensors[`${MOMENT_PREFIX[part]}${name}`] = { dtype: 'F32', shape: a.shape, data: ckpt.optimizer[part][name] };
  }
  const meta = { ...ckpt, adapters: undefined, optimizer: { t: ckpt.optimizer.t } };
  return serializeSafetensors(tensors, { [CHECKPOINT_METADATA_KEY]: JSON.stringify(meta, encodeNonFinite) });
}

/** Reads what `checkpointToSafetensors` wrote; errors name the file. The trainer's importState checks the rest. */
export function checkpointFromSafetensors(bytes: Uint8Array, fileName: string): TrainerCheckpoint {
  const { metadata, tensors } = parseSafetensors(bytes, fileName);
  const json = metadata[CHECKPOINT_METADATA_KEY];
  if (json === undefined) throw new Error(`${fileName} is not a training checkpoint (its __metadata__ has no "${CHECKPOINT_METADATA_KEY}")`);
  let meta: Omit<TrainerCheckpoint, 'adapters' | 'optimizer'> & { optimizer: { t: number } };
  try {
    meta = JSON.parse(json, decodeNonFinite);
  } catch (err) {
    throw new Error(`${fileName}: the checkpoint's "${CHECKPOINT_METADATA_KEY}" metadata is not valid JSON (${(err as Error).message})`);
  }
  if (!Number.isInteger(meta?.optimizer?.t)) throw new Error(`${fileName}: the checkpoint's metadata has no optimizer.t (Adam's update count)`);
  const adapters: TrainerCheckpoint['adapters'] = {};
  const m: Record<string, Float32Array> = {};
  const v: Record<string, Float32Array> = {};
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${fileName}: tensor "${name}" has dtype ${t.dtype}; a checkpoint holds F32 tensors only`);
    if (name.startsWith(MOMENT_PREFIX.m)) m[name.slice(MOMENT_PREFIX.m.length)] = t.data;
    else if (name.startsWith(MOMENT_PREFIX.v)) v[name.slice(MOMENT_PREFIX.v.length)] = t.data;
    else adapters[name] = { shape: t.shape, data: t.data };
  }
  return { ...meta, adapters, optimizer: { t: meta.optimizer.t, m, v } };
}
