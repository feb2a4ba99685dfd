/**
 * What the trainer computes once per pair, before any step: the prompt encoding and vision features (the engine
 * caches features per image), the responses cut to what the model reads, the reference log-probs (adapters off),
 * the similarities `S_i` and the token→sentence map. Pairs that cannot be used are left out with a reason.
 */
import { RawImage } from '@huggingface/transformers';
import type { PairScores } from '../aspo/objective';
import { assignTokensToSentences, splitSentences } from '../aspo/sentences';
import type { PreferencePair } from '../data/pairs';
import type { EncodedPrompt, EncodedResponse, TfjsEngine } from '../models/tfjs/engine';
import { SANDBOX_KEY_PREFIX, sandboxImage } from '../sandbox/preferences';
import type { TrainSettings } from './settings';

/** Loads the image a pair names (a path, a sandbox key, an IndexedDB key…). */
export type ImageLoader = (key: string, pair: PreferencePair) => Promise<RawImage>;
/** `S_i` (Eq. 6) of each sentence of the chosen response (the CLIP scorer: `clipSimilarities`). */
export type SimilarityFn = (pair: PreferencePair, sentences: string[]) => Promise<number[]>;

/** The default image loader: the bundled sandbox pictures (`sandbox:<split>/<i>`). */
export const sandboxImageLoader: ImageLoader = async (key) => {
  if (!key.startsWith(SANDBOX_KEY_PREFIX)) throw new Error(`no image loader was given for image "${key}" (only ${SANDBOX_KEY_PREFIX} images load by default)`);
  const image = sandboxImage(key);
  return new RawImage(image.data, image.width, image.height, image.channels);
};

interface PreparedResponse {
  /** response token ids after truncation */
  ids: number[];
  refLogps: number[];
}

export interface PreparedPair {
  /** how messages name the pair */
  label: string;
  encoded: EncodedPrompt;
  chosen: PreparedResponse & { tokenSentence: number[] };
  rejected: PreparedResponse;
  /** S_i of the chosen sentences that kept at least one token */
  similarity: number[];
  /** truncations, repeated in every step report that uses the pair */
  notices: string[];
}

/** Per-token log-probs of a pair's chosen and rejected responses. */
export interface PairLogps {
  chosen: number[];
  rejected: number[];
}

type ResponseIds = { chosen: { ids: number[] }; rejected: { ids: number[] } };

/** Splits the `[2, W]` rows of `responseLogprobs` for a pair (chosen first, each padded to W) into its two responses. */
export function pairRows(values: Float32Array, width: number, pair: ResponseIds): PairLogps {
  return {
    chosen: Array.from(values.subarray(0, pair.chosen.ids.length)),
    rejected: Array.from(values.subarray(width, width + pair.rejected.ids.length)),
  };
}

/** Chosen and rejected in one forward, without gradient: the policy's (adapters on) or the reference's (off). */
export async function pairLogps(engine: TfjsEngine, encoded: EncodedPrompt, pair: ResponseIds, adapters: boolean): Promise<PairLogps> {
  const lp = engine.responseLogprobs(encoded, [pair.chosen, pair.rejected], adapters);
  const values = (await lp.data()) as Float32Array;
  const width = lp.shape[1];
  lp.dispose();
  return pairRows(values, width, pair);
}

/** What the method reads of a prepared pair, with the policy's log-probs. */
export function pairScores(p: PreparedPair, policy: PairLogps): PairScores {
  return {
    chosen: { policyLogps: policy.chosen, refLogps: p.chosen.refLogps, tokenSentence: p.chosen.tokenSentence, similarity: p.similarity },
    rejected: { policyLogps: policy.rejected, refLogps: p.rejected.refLogps },
  };
}

/** Which log-prob of the pair is not finite, in words; undefined when all are. */
export function firstNonFinite(p: PreparedPair, logps: PairLogps, model: 'policy' | 'reference'): string | undefined {
  for (const which of ['chosen', 'rejected'] as const) {
    const values = logps[which];
    const t = values.findIndex((v) => !Number.isFinite(v));
    if (t >= 0) return `the ${model} log-prob of token ${t + 1} of the ${which} response of ${p.label} is ${values[t]}`;
  }
  return undefined;
}

/** The first of a batch's pairs whose log-probs are not finite, in words; undefined when all are. */
export function firstNonFiniteOf(batch: readonly PreparedPair[], logps: readonly PairLogps[], model: 'policy' | 'reference'): string | undefined {
  for (let j = 0; j < batch.length; j++) {
    const bad = firstNonFinite(batch[j], logps[j], model);
    if (bad) return bad;
  }
  return undefined;
}

export interface PairPreparation {
  engine: TfjsEngine;
  settings: TrainSettings;
  loadImage: ImageLoader;
  /** used when a pair carries no `similarity.chosen` */
  similarity?: SimilarityFn;
}

/** Whether the weights use `S_i`: only ASPO with α > 0. */
function needsSimilarity(settings: TrainSettings): boolean {
  return settings.objective === 'aspo' && settings.alpha > 0;
}

/** A pair's prompt encoded and its responses cut to what the model reads, with the truncations said. */
export interface EncodedPair {
  encoded: EncodedPrompt;
  chosen: EncodedResponse;
  rejected: EncodedResponse;
  notices: string[];
}

/** The first part of `preparePair`: the image loaded, the prompt encoded, the responses cut; or why the pair is left out. */
export async function encodePair(ctx: Omit<PairPreparation, 'similarity'>, pair: PreferencePair, label: string): Promise<EncodedPair | { leftOut: string }> {
  const { engine } = ctx;
  const maxSeqLen = ctx.settings.maxSeqLen;
  let image: RawImage | undefined;
  if (pair.image !== undefined) {
    // A picture that does not load loses its pair, not the run, like a malformed line of the data.
    try {
      image = await ctx.loadImage(pair.image, pair);
    } catch (err) {
      return { leftOut: `${label} left out: image "${pair.image}" did not load: ${(err as Error).message}` };
    }
  }
  const encoded = await engine.encodePrompt(pair.prompt, image);
  // Chosen and rejected run in one forward: the model's window, what its attention fits for two, or what a training
  // step of theirs leaves room for in the backend's memory, may be less than maxSeqLen.
  const fits = engine.trainingPairLimit();
  const limit = maxSeqLen <= fits.tokens ? { tokens: maxSeqLen, name: 'maxSeqLen' } : fits;
  if (limit.tokens - encoded.promptIds.length < 1) {
    return { leftOut: `${label} left out: its prompt alone has ${encoded.promptIds.length} tokens, ${limit.name} is ${limit.tokens}` };
  }
  const notices: string[] = [];
  // Cut before any per-token work, so that a response of any length costs only what is kept.
  const [chosen, rejected] = [pair.chosen, pair.rejected].map((r) => engine.encodeResponse(encoded, pair.prompt, r, limit));
  for (const [which, r] of [['chosen', chosen], ['rejected', rejected]] as const) {
    if (r.cut) notices.push(`${label}: ${which} response truncated from ${r.tokens.fullLength} to ${r.tokens.ids.length} tokens (${r.cut})`);
  }
  return { encoded, chosen, rejected, notices };
}

/**
 * A pair ready for training, or why it is left out (an image that does not load, a prompt that alone fills the
 * window, reference log-probs that are not finite). A missing or malformed similarity throws: it is the caller's
 * data or callback that is wrong, not one pair.
 */
export async function preparePair(ctx: PairPreparation, pair: PreferencePair, label: string): Promise<PreparedPair | { leftOut: string }> {
  const cut = await encodePair(ctx, pair, label);
  if ('leftOut' in cut) return cut;
  const { encoded, chosen, rejected, notices } = cut;
  const sentences = splitSentences(pair.chosen);
  const tokenSentence = assignTokensToSentences(sentences, chosen.tokens.offsets, chosen.tokens.eosIndex);
  const keptSentences = Math.max(...tokenSentence) + 1;
  if (keptSentences < sentences.length) {
    notices.push(`${label}: ${sentences.length - keptSentences} of ${sentences.length} chosen sentences cut off entirely by the truncation`);
  }
  let similarity: number[];
  if (!needsSimilarity(ctx.settings)) {
    similarity = new Array<number>(sentences.length).fill(0);
  } else {
    // The callback (CLIP) is asked only about the sentences the truncation kept.
    const asked = pair.similarity?.chosen ? sentences.length : keptSentences;
    const given = pair.similarity?.chosen ?? (ctx.similarity ? await ctx.similarity(pair, sentences.slice(0, asked).map((s) => s.text)) : undefined);
    if (!given) {
      throw new Error(`${label} has no similarity.chosen and no similarity callback was given; ASPO with α > 0 needs S_i per sentence (or use α = 0, ASPO-P)`);
    }
    if (given.length !== asked || given.some((v) => !Number.isFinite(v))) {
      throw new Error(`${label}: ${given.length} similarities for ${asked} chosen sentences; need one finite value per sentence`);
    }
    similarity = given.slice();
  }
  const responses = { chosen: { ids: chosen.tokens.ids }, rejected: { ids: rejected.tokens.ids } };
  const ref = await pairLogps(ctx.engine, encoded, responses, false);
  const prepared: PreparedPair = {
    label,
    encoded,
    chosen: { ids: responses.chosen.ids, refLogps: ref.chosen, tokenSentence },
    rejected: { ids: responses.rejected.ids, refLogps: ref.rejected },
    similarity: similarity.slice(0, keptSentences),
    notices,
  };
  const bad = firstNonFinite(prepared, ref, 'reference');
  if (bad) return { leftOut: `${label} left out: ${bad} (does the base model hold NaN or infinite weights?)` };
  return prepared;
}
