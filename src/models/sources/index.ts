/**
 * Where a model's files come from. One interface ({@link ModelSource}, in `modelSource.ts`), one file per kind:
 *
 * - `hub.ts`: a Hugging Face Hub repo or mirror, downloaded with per-file progress and kept in Cache Storage;
 * - `folder.ts`: a folder the user picked, fully offline;
 * - `url.ts`: a model bundled with the app (served at `/models/` from `tests/fixtures/models/`, see `scripts/lib/bundledModels.ts`);
 *
 * the two that fetch share one cache → fetch → error → store path (`cachedFetch.ts`). `memo.ts` keeps what any
 * source read; `loadFiles.ts` reads several files with one progress bar. Pure data: no React, no TF.js. Node
 * tests pass an in-memory cache ({@link memoryCache}) and their own `fetch` where they need to.
 */
export { MODEL_CACHE_NAME, memoryCache } from './cache';
export { folderSource } from './folder';
export { hubIdProblem, hubSource } from './hub';
export { loadFiles, type TotalProgress } from './loadFiles';
export { memoSource } from './memo';
export { ModelFileError, parseModelJson, type FileProgress, type ModelSource, type ProgressCallback } from './modelSource';
export { urlPrefixSource } from './url';
