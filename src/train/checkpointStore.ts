/**
 * Training checkpoints in IndexedDB (the plain API, no wrapper package): one record per run, overwritten at
 * every save, holding the Trainer's checkpoint (adapters, Adam moments, data order, history) and what is needed
 * to rebuild the trainer after a reload (the model and the training pairs). Works in a Worker and in a window.
 */
import type { PreferencePair } from '../data/pairs';
import type { TrainerCheckpoint } from './trainer';

export const CHECKPOINT_DB = 'aspo-workbench-train';
export const CHECKPOINT_STORE = 'checkpoints';
const DB_VERSION = 1;

/** The model a run trains: a catalog entry (bundled or hub) or a folder the user picked (not reloadable by itself). */
export type ModelSpec = { kind: 'catalog'; entryId: string } | { kind: 'folder'; name: string };

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
