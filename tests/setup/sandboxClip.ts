/**
 * The sandbox CLIP for tests that train on the sandbox pairs: `S_i` through the CLIP scorer (ONNX Runtime in Node),
 * loaded once per test file, as the command line scores them.
 */
import { afterAll } from 'vitest';
import { SANDBOX_CLIP_DIR } from '../../scripts/cli/train';
import { nodeFolderSource } from '../../scripts/lib/nodeModelSource';
import type { PreferencePair } from '../../src/data/pairs';
import { loadClipScorer, type ClipScorer } from '../../src/models/clip';
import { sandboxPairs } from '../../src/sandbox/preferences';
import { clipSimilarities, lazily, withSimilarities } from '../../src/train/clipSimilarity';
import { sandboxImageLoader } from '../../src/train/pairPreparation';

let loaded: ClipScorer | null = null;
const scorer = lazily(async () => (loaded = await loadClipScorer(nodeFolderSource(SANDBOX_CLIP_DIR), { device: 'cpu' })));
afterAll(() => loaded?.dispose());

/** The trainer's `similarity` callback for sandbox pairs. */
export const sandboxClipSimilarities = clipSimilarities(scorer, sandboxImageLoader);

/** The first `n` sandbox training pairs with their S_i stored and their images dropped: text pairs for the text-only model. */
export async function sandboxTextPairs(n: number): Promise<PreferencePair[]> {
  const scored = await withSimilarities(sandboxPairs().train.slice(0, n), sandboxClipSimilarities);
  return scored.map(({ image: _image, ...p }) => p);
}
