/**
 * `S_i` of the sandbox pairs in the worker: the bundled sandbox CLIP through the CLIP scorer, loaded the first time
 * a run needs it and kept for the worker's life. It runs on ONNX Runtime's WebAssembly: TF.js holds the GPU here.
 */
import { catalogEntry, SANDBOX_CLIP_ID, sourceFor } from '../../models/catalog';
import { loadClipScorer } from '../../models/clip';
import { clipSimilarities, lazily } from '../clipSimilarity';
import { sandboxImageLoader } from '../pairPreparation';

const entry = catalogEntry(SANDBOX_CLIP_ID);
const scorer = lazily(() => loadClipScorer(sourceFor(entry, ''), { dtype: typeof entry.dtype === 'string' ? entry.dtype : 'fp32', device: 'wasm' }));

export const sandboxSimilarities = clipSimilarities(scorer, sandboxImageLoader);
