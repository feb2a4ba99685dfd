/**
 * Per-sentence weights of ASPO: perplexities, min-max normalisation and the
 * adaptive weight that mixes image–text similarity with perplexity.
 *
 * The similarities `S_i` are inputs here: they come from the CLIP scorer.
 */

function assertFinite(values: readonly number[], what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`${what}[${i}] must be a finite number, got ${values[i]}`);
    }
  }
}

function assertAlpha(alpha: number): void {
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`alpha must lie in [0, 1], got ${alpha}`);
  }
}

function extent(values: readonly number[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/**
 * Eq. 7: `(v − min) / (max − min)` over the values of one response.
 *
 * When every value is equal (always so for a single sentence) the values carry
 * no ranking, so all map to 0 and the response falls back to plain DPO. A
 * non-finite value throws: it would silently turn every result into NaN.
 */
export function minMaxNormalize(values: number[]): number[] {
  assertFinite(values, 'values');
  const { min, max } = extent(values);
  if (!(max > min)) return values.map(() => 0);
  const range = max - min;
  return values.map((v) => (v - min) / range);
}

/**
 * `P̂ = (max − v) / (max − min)`: perplexity is negated before min-max
 * normalisation (the same normalisation as `minMaxNormalize`) so that the most
 * confident sentence gets 1 and the most perplexing one 0. Computed directly
 * rather than as `1 − minMaxNormalize(v)` so that the extremes are exactly 0
 * and 1. Degenerate inputs give 0, as in `minMaxNormalize`.
 */
export function negatedMinMaxNormalize(values: number[]): number[] {
  assertFinite(values, 'values');
  const { min, max } = extent(values);
  if (!(max > min)) return values.map(() => 0);
  const range = max - min;
  return values.map((v) => (max - v) / range);
}

/**
 * Eq. 8: `PPL = exp(−(1/N) Σ_t ℓ_t)`.
 *
 * An empty sequence has no evidence either way and gets the neutral
 * perplexity 1 instead of the 0/0 of the formula.
 */
export function sequencePerplexity(tokenLogps: number[]): number {
  if (tokenLogps.length === 0) return 1;
  let sum = 0;
  for (const l of tokenLogps) sum += l;
  return Math.exp(-sum / tokenLogps.length);
}

/**
 * Eq. 9: `PPL_i = exp(−(1/n_i) Σ_{t∈s_i} ℓ_t)` for every sentence at once.
 *
 * The log-probs are teacher-forced over the whole response, so each one is
 * already conditioned on the image, the prompt and all earlier sentences.
 *
 * A sentence that holds no token (possible when one token spans a sentence
 * boundary) gets PPL 1, the value of an empty sequence in
 * `sequencePerplexity`; its reward is 0 whatever its weight, but note that 1
 * is the lowest possible perplexity, so it takes part in the normalisation as
 * the most confident sentence.
 */
export function sentencePerplexity(
  tokenLogps: number[],
  tokenSentence: number[],
  sentenceCount: number,
): number[] {
  if (!Number.isInteger(sentenceCount) || sentenceCount < 0) {
    throw new RangeError(`sentenceCount must be a non-negative integer, got ${sentenceCount}`);
  }
  if (tokenLogps.length !== tokenSentence.length) {
    throw new RangeError(
      `tokenLogps has ${tokenLogps.length} entries but tokenSentence has ${tokenSentence.length}; ` +
        'they must have one entry per response token',
    );
  }
  const sums = new Array<number>(sentenceCount).fill(0);
  const counts = new Array<number>(sentenceCount).fill(0);
  for (let t = 0; t < tokenSentence.length; t++) {
    const s = tokenSentence[t];
    if (!Number.isInteger(s) || s < 0 || s >= sentenceCount) {
      throw new RangeError(
        `tokenSentence[${t}] = ${s} is not a sentence index in [0, ${sentenceCount})`,
      );
    }
    sums[s] += tokenLogps[t];
    counts[s] += 1;
  }
  return sums.map((sum, s) => (counts[s] === 0 ? 1 : Math.exp(-sum / counts[s])));
}

/**
 * Eq. 10: `w_i = α·Ŝ_i + (1 − α)·P̂_i`, from already normalised scores.
 *
 * Kept apart from `adaptiveWeights` because the token-level ablation
 * normalises similarity over sentences but perplexity over tokens. The clamp
 * to [0, 1] is a guard: with both inputs in [0, 1] only rounding could step
 * outside the range the method promises.
 */
export function combineWeights(simNorm: number[], pplNorm: number[], alpha: number): number[] {
  assertAlpha(alpha);
  if (simNorm.length !== pplNorm.length) {
    throw new RangeError(
      `simNorm has ${simNorm.length} entries but pplNorm has ${pplNorm.length}; they must match`,
    );
  }
  return simNorm.map((s, i) => Math.min(1, Math.max(0, alpha * s + (1 - alpha) * pplNorm[i])));
}

export interface AdaptiveWeights {
  /** `Ŝ_i`, min-max normalised similarity. */
  simNorm: number[];
  /** `P̂_i`, negated min-max normalised perplexity. */
  pplNorm: number[];
  /** `w_i ∈ [0, 1]`. */
  weight: number[];
}

/**
 * The adaptive weights of one response's sentences from their raw
 * similarities `S_i` and perplexities `PPL_i`: both normalised over the
 * response, then mixed by `combineWeights`. `α = 1` is the paper's ASPO-S,
 * `α = 0` ASPO-P.
 */
export function adaptiveWeights(
  similarity: number[],
  perplexity: number[],
  alpha: number,
): AdaptiveWeights {
  assertAlpha(alpha);
  if (similarity.length !== perplexity.length) {
    throw new RangeError(
      `similarity has ${similarity.length} entries but perplexity has ${perplexity.length}; ` +
        'they need one entry per sentence',
    );
  }
  const simNorm = minMaxNormalize(similarity);
  const pplNorm = negatedMinMaxNormalize(perplexity);
  return { simNorm, pplNorm, weight: combineWeights(simNorm, pplNorm, alpha) };
}
