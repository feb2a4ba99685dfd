/** Several files of one model with one progress bar. */
import { normalizeName, type FileProgress, type ModelSource, type ProgressCallback } from './modelSource';

export interface TotalProgress {
  /** the file whose progress changed */
  file: string;
  /** bytes loaded over all files */
  loaded: number;
  /** bytes expected over all files (known sizes; a file of unknown size counts what it has loaded) */
  total: number;
  /** files finished / requested */
  filesDone: number;
  filesTotal: number;
  perFile: Readonly<Record<string, FileProgress>>;
}

/**
 * Load several files of one model concurrently with a combined progress
 * report. The last event has `loaded === total` and `filesDone === filesTotal`.
 * `optional` files are loaded too, and come back as `null` when they do not exist.
 */
export async function loadFiles(
  source: ModelSource,
  names: readonly string[],
  onProgress?: (p: TotalProgress) => void,
  opts: { optional?: readonly string[] } = {},
): Promise<Record<string, Uint8Array | null>> {
  const perFile: Record<string, FileProgress> = {};
  const done = new Set<string>();
  const optional = new Set((opts.optional ?? []).map(normalizeName));
  const files = [...new Set([...names, ...(opts.optional ?? [])].map(normalizeName))];
  for (const f of files) perFile[f] = { file: f, loaded: 0, total: 0, fromCache: false };
  const emit = (file: string) => {
    if (!onProgress) return;
    let loaded = 0;
    let total = 0;
    for (const p of Object.values(perFile)) {
      loaded += p.loaded;
      total += Math.max(p.total, p.loaded);
    }
    onProgress({ file, loaded, total, filesDone: done.size, filesTotal: files.length, perFile: { ...perFile } });
  };
  const results = await Promise.all(
    files.map(async (f) => {
      const cb: ProgressCallback = (p) => {
        perFile[f] = { ...p, file: f };
        emit(f);
      };
      const bytes = optional.has(f) ? await source.tryGetFile(f, cb) : await source.getFile(f, cb);
      if (bytes === null) perFile[f] = { file: f, loaded: 0, total: 0, fromCache: false };
      else perFile[f] = { file: f, loaded: bytes.length, total: bytes.length, fromCache: perFile[f].fromCache };
      done.add(f);
      emit(f);
      return [f, bytes] as const;
    }),
  );
  return Object.fromEntries(results);
}
