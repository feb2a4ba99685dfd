/**
 * Eq. 6: `S_i = cos(E_text(s_i), E_img(I))` — the cosine between each sentence's CLIP text embedding and the
 * image's CLIP image embedding, both L2-normalised first (as CLIP's own `logits_per_image` does, without its
 * temperature). `textEmbeds` holds one row per sentence; every row and `imageEmbed` have the same length.
 * Computed in float64; a zero vector has no direction and gives 0.
 */
export function clipSimilarity(textEmbeds: readonly ArrayLike<number>[], imageEmbed: ArrayLike<number>): number[] {
  const norm = (v: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    return Math.sqrt(s);
  };
  const imageNorm = norm(imageEmbed);
  return textEmbeds.map((t, row) => {
    if (t.length !== imageEmbed.length) {
      throw new Error(`text embedding ${row} has ${t.length} values but the image embedding has ${imageEmbed.length}`);
    }
    const textNorm = norm(t);
    if (textNorm === 0 || imageNorm === 0) return 0;
    let dot = 0;
    for (let i = 0; i < t.length; i++) dot += t[i] * imageEmbed[i];
    return dot / (textNorm * imageNorm);
  });
}
