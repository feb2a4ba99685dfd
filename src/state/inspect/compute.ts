import {
  adaptiveWeights,
  aspoObjective,
  granularityUnits,
  sentencePerplexity,
  sentenceRewards,
  splitSentences,
  type AspoInput,
  type AspoResult,
  type Granularity,
  type Normalization,
  type PerplexitySource,
  type SentenceSpan,
} from '../../aspo';
import type { SentenceNumbers } from '../../data/examples';
import {
  resolveNumbers,
  scoredFits,
  type NumberBook,
  type SentenceField,
  type PairContext,
  type Provenance,
  type ScoredResponse,
  type Side,
} from '../../data/sentenceNumbers';
import { judgeSentence, type SentenceVerdict } from '../../sandbox/judge';
import type { Scene } from '../../sandbox/scene';

export interface InspectInput {
  chosen: string;
  rejected: string;
  book: NumberBook;
  pair: PairContext;
  alpha: number;
  beta: number;
  normalization: Normalization;
  perplexitySource: PerplexitySource;
  granularity: Granularity;
  scored?: { chosen?: ScoredResponse; rejected?: ScoredResponse };
  /** The sandbox scene the image shows, whose ground truth the judge holds each sentence against. */
  scene?: Scene | null;
}

/** One sentence as the Inspect tab shows it. Weight fields exist for the chosen side only (only it is reweighted). */
export interface SentenceRow extends SentenceSpan {
  numbers: SentenceNumbers;
  /** Where each number came from. */
  sources: Record<SentenceField, Provenance>;
  perplexity: number;
  reward: number;
  simNorm?: number;
  pplNorm?: number;
  /** w_i; at token granularity the mean weight of the sentence's tokens. */
  weight?: number;
  /** The model's tokens of this sentence, when the response was scored by a model. */
  tokens?: ScoredResponse['tokens'];
  /** The judge's verdict, when the image is a sandbox scene. */
  verdict?: SentenceVerdict;
}

export interface InspectView {
  chosen: SentenceRow[];
  rejected: SentenceRow[];
  /** Null while either response is empty: there is no pair to score. */
  result: AspoResult | null;
  /** Exactly what went into the objective, so the TF.js twin can run on the same numbers. */
  objectiveInput: AspoInput | null;
}

/**
 * Numbers that came without tokens (an example's, the user's, or a model's whose tokens no longer fit the text),
 * as the per-token log-probs the objective takes: each sentence's sum spread evenly over its token count.
 * Sentence perplexity and rewards depend only on a sentence's sum and count, so this changes nothing at sentence
 * or response granularity; token granularity needs a model's real tokens.
 */
function spreadOverTokens(numbers: SentenceNumbers[]) {
  const policyLogps: number[] = [];
  const refLogps: number[] = [];
  const tokenSentence: number[] = [];
  numbers.forEach((n, i) => {
    const count = Math.max(1, Math.round(n.tokens));
    for (let t = 0; t < count; t++) {
      policyLogps.push(n.policyLogp / count);
      refLogps.push(n.refLogp / count);
      tokenSentence.push(i);
    }
  });
  return { policyLogps, refLogps, tokenSentence };
}

/** A model's tokens as the objective takes them, each in the sentence it was mapped to when it was scored. */
function scoredTokens(scored: ScoredResponse) {
  return {
    policyLogps: scored.tokens.map((t) => t.policy),
    refLogps: scored.tokens.map((t) => t.ref),
    tokenSentence: scored.tokens.map((t) => t.sentence),
  };
}

/**
 * A model's tokens of a response where they fit its text, prompt and image and give every sentence a token;
 * a response cut by the model's window falls back to the table's numbers.
 */
function usableScored(scored: ScoredResponse | undefined, text: string, sentenceCount: number, pair: PairContext) {
  if (!scoredFits(scored, text, pair)) return undefined;
  const covered = new Set(scored.tokens.map((t) => t.sentence));
  return covered.size === sentenceCount ? scored : undefined;
}

/** One response: its sentences with their numbers, the tokens the objective takes, and each sentence's PPL_i and r_i. */
function inspectSide(input: InspectInput, side: Side) {
  const text = input[side];
  const spans = splitSentences(text);
  const resolved = resolveNumbers(input.book, side, text, spans, input.pair);
  const numbers = resolved.map((r) => r.numbers);
  const scored = usableScored(input.scored?.[side], text, spans.length, input.pair);
  const tokens = scored ? scoredTokens(scored) : spreadOverTokens(numbers);
  const pplLogps = input.perplexitySource === 'policy' ? tokens.policyLogps : tokens.refLogps;
  const perplexity = sentencePerplexity(pplLogps, tokens.tokenSentence, spans.length);
  const rewards = sentenceRewards(tokens.policyLogps, tokens.refLogps, tokens.tokenSentence, spans.length, input.beta);
  const rows = spans.map((span, i): SentenceRow => ({
    ...span,
    numbers: numbers[i],
    sources: resolved[i].sources,
    perplexity: perplexity[i],
    reward: rewards[i],
    tokens: scored?.tokens.filter((t) => t.sentence === i),
    verdict: input.scene ? judgeSentence(input.scene, span.text) : undefined,
  }));
  return { tokens, perplexity, rows, similarity: numbers.map((n) => n.similarity) };
}

export function computeInspect(input: InspectInput): InspectView {
  const chosen = inspectSide(input, 'chosen');
  const rejected = inspectSide(input, 'rejected');
  const { similarity } = chosen;
  const sentenceWeights = adaptiveWeights(similarity, chosen.perplexity, input.alpha);

  let result: AspoResult | null = null;
  let objectiveInput: AspoInput | null = null;
  let unitWeights: { tokenUnit: number[]; weights: number[] } | null = null;
  if (chosen.rows.length && rejected.rows.length) {
    [unitWeights] = granularityUnits(
      [{ chosen: { ...chosen.tokens, similarity }, rejected: rejected.tokens }],
      {
        objective: 'aspo',
        alpha: input.alpha,
        beta: input.beta,
        normalization: input.normalization,
        granularity: input.granularity,
        perplexitySource: input.perplexitySource,
      },
    );
    objectiveInput = {
      chosen: { ...chosen.tokens, tokenSentence: unitWeights.tokenUnit, weights: unitWeights.weights },
      rejected: rejected.tokens,
      beta: input.beta,
      normalization: input.normalization,
    };
    result = aspoObjective(objectiveInput);
  }

  const weightOfSentence = (i: number): number => {
    if (input.granularity === 'sentence' || !unitWeights) return sentenceWeights.weight[i];
    const own = chosen.tokens.tokenSentence
      .map((s, t) => (s === i ? unitWeights!.weights[unitWeights!.tokenUnit[t]] : null))
      .filter((w): w is number => w !== null);
    return own.length ? own.reduce((a, b) => a + b, 0) / own.length : 0;
  };

  return {
    chosen: chosen.rows.map((row, i) => ({
      ...row,
      simNorm: sentenceWeights.simNorm[i],
      pplNorm: sentenceWeights.pplNorm[i],
      weight: weightOfSentence(i),
    })),
    rejected: rejected.rows,
    result,
    objectiveInput,
  };
}
