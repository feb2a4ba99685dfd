import type { RawImage } from '@huggingface/transformers';

/** FNV-1a over the pixels and size: a cheap, stable key for caches of per-image results (vision features, CLIP embeddings). */
export function imageKey(image: RawImage): string {
  let h = 0x811c9dc5;
  const data = image.data as Uint8Array | Uint8ClampedArray;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i];
    h = Math.imul(h, 0x01000193);
  }
  return `${image.width}x${image.height}x${image.channels}:${(h >>> 0).toString(16)}`;
}
