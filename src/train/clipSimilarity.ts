/**
 * `S_i` (Eq. 6) for pairs that carry none: each chosen sentence scored against the pair's image by a CLIP through
 * the CLIP scorer (`clipSimilarity` on its embeddings), the trainer's `similarity` callback for real data and the
 * sandbox alike. The scorer is asked for only when a pair needs it, so a run that never uses `S_i` (DPO, α = 0)
 * loads no CLIP.
 */
import { splitSentences } from '../aspo/sentences';
import type { PreferencePair } from '../data/pairs';
import type { ClipScorer } from '../models/clip';
import type { ImageLoader, SimilarityFn } from './pairPreparation';

export function clipSimilarities(scorer: () => Promise<ClipScorer>, loadImage: ImageLoader, label: (pair: PreferencePair) => string = () => 'the pair'): SimilarityFn {
  return async (pair, sentences) => {
    if (pair.image === undefined) {
      throw new Error(`${label(pair)} has no image and no similarity.chosen: CLIP scores sentences against an image, so S_i needs one (or use α = 0, ASPO-P, or DPO)`);
    }
    const image = await loadImage(pair.image, pair);
    const results = await (await scorer()).similarity(image, sentences);
    return results.map((r) => r.similarity);
  };
}

/** A loader that loads once, on first use, and hands every caller the same promise (a failed load is tried again next time). */
export function lazily<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= load().catch((err: unknown) => {
      pending = null;
      throw err;
    });
    return pending;
  };
}

/** The pairs with `similarity.chosen` stored from `similarity` (as `aspo similarity` stores them with real data), e.g. before their images are dropped. */
export async function withSimilarities(pairs: readonly PreferencePair[], similarity: SimilarityFn): Promise<PreferencePair[]> {
  const scored: PreferencePair[] = [];
  for (const pair of pairs) scored.push({ ...pair, similarity: { chosen: await similarity(pair, splitSentences(pair.chosen).map((s) => s.text)) } });
  return scored;
}
