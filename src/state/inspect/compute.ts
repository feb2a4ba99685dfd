import {
  adaptiveWeights,
  aspoObjective,
  assignTokensToSentences,
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
  type LogpNumbers,
  type NumberBook,
  type SentenceField,
  type PairContext,
  type Provenance,
  type ScoredResponse,
} from '../../data/sentenceNumbers';

export interface CalculatorInput {
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
}

/** One sentence as the calculator shows it. Weight fields exist for the chosen side only (only it is reweighted). */
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
}

export interface CalculatorView {
  chosen: SentenceRow[];
  rejected: SentenceRow[];
  /** Null while either response is empty: there is no pair to score. */
  result: AspoResult | null;
  /** Exactly what went into the objective, so the TF.js twin can run on the same numbers. */
  objectiveInput: AspoInput | null;
}

/**
 * Per-token log-probs with the same sums and counts as the sentence numbers. Sentence perplexity and rewards
 * depend only on a sentence's sum and token count, so spreading the sum evenly changes nothing at sentence or
 * response granularity; token granularity needs a model's real tokens.
 */
export function spreadOverTokens(numbers: SentenceNumbers[]) {
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

/** A model's tokens mapped to the sentences of the response (the method-spec's token rule). */
export function scoredTokens(spans: SentenceSpan[], scored: ScoredResponse) {
  const tokenSentence = assignTokensToSentences(
    spans,
    scored.tokens.map((t) => [t.start, t.end] as [number, number]),
    scored.eosIndex,
  );
  return {
    policyLogps: scored.tokens.map((t) => t.policy),
    refLogps: scored.tokens.map((t) => t.ref),
    tokenSentence,
  };
}

/**
 * Log-prob sums and token counts per sentence from a model's tokens, so the table shows what the model said;
 * null for a sentence the model's window cut off, which got no token and so no number from the model.
 */
export function logpsFromTokens(spans: SentenceSpan[], scored: ScoredResponse): (LogpNumbers | null)[] {
  const { tokenSentence } = scoredTokens(spans, scored);
  return spans.map((_, i) => {
    const mine = scored.tokens.filter((_, t) => tokenSentence[t] === i);
    if (mine.length === 0) return null;
    return {
      policyLogp: mine.reduce((s, t) => s + t.policy, 0),
      refLogp: mine.reduce((s, t) => s + t.ref, 0),
      tokens: mine.length,
    };
  });
}

/**
 * A model's tokens of a response where they fit its text, prompt and image and give every sentence a token;
 * a response cut by the model's window falls back to the table's numbers.
 */
function usableScored(scored: ScoredResponse | undefined, text: string, spans: SentenceSpan[], pair: PairContext) {
  if (!scoredFits(scored, text, pair)) return undefined;
  const covered = new Set(scoredTokens(spans, scored).tokenSentence);
  return spans.every((_, i) => covered.has(i)) ? scored : undefined;
}

function sideTokens(spans: SentenceSpan[], numbers: SentenceNumbers[], scored: ScoredResponse | undefined) {
  return scored ? scoredTokens(spans, scored) : spreadOverTokens(numbers);
}

function scoreSide(spans: SentenceSpan[], tokens: ReturnType<typeof spreadOverTokens>, input: CalculatorInput) {
  const pplLogps = input.perplexitySource === 'policy' ? tokens.policyLogps : tokens.refLogps;
  const perplexity = sentencePerplexity(pplLogps, tokens.tokenSentence, spans.length);
  const rewards = sentenceRewards(tokens.policyLogps, tokens.refLogps, tokens.tokenSentence, spans.length, input.beta);
  return { perplexity, rewards };
}

export function computeCalculator(input: CalculatorInput): CalculatorView {
  const chosenSpans = splitSentences(input.chosen);
  const rejectedSpans = splitSentences(input.rejected);
  const chosenResolved = resolveNumbers(input.book, 'chosen', input.chosen, chosenSpans, input.pair);
  const rejectedResolved = resolveNumbers(input.book, 'rejected', input.rejected, rejectedSpans, input.pair);
  const chosenNumbers = chosenResolved.map((r) => r.numbers);
  const rejectedNumbers = rejectedResolved.map((r) => r.numbers);
  const chosenScored = usableScored(input.scored?.chosen, input.chosen, chosenSpans, input.pair);
  const rejectedScored = usableScored(input.scored?.rejected, input.rejected, rejectedSpans, input.pair);
  const chosenTokens = sideTokens(chosenSpans, chosenNumbers, chosenScored);
  const rejectedTokens = sideTokens(rejectedSpans, rejectedNumbers, rejectedScored);
  const chosen = scoreSide(chosenSpans, chosenTokens, input);
  const rejected = scoreSide(rejectedSpans, rejectedTokens, input);
  const similarity = chosenNumbers.map((n) => n.similarity);
  const sentenceWeights = adaptiveWeights(similarity, chosen.perplexity, input.alpha);

  let result: AspoResult | null = null;
  let objectiveInput: AspoInput | null = null;
  let unitWeights: { tokenUnit: number[]; weights: number[] } | null = null;
  if (chosenSpans.length && rejectedSpans.length) {
    [unitWeights] = granularityUnits(
      [{ chosen: { ...chosenTokens, similarity }, rejected: rejectedTokens }],
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
      chosen: { ...chosenTokens, tokenSentence: unitWeights.tokenUnit, weights: unitWeights.weights },
      rejected: rejectedTokens,
      beta: input.beta,
      normalization: input.normalization,
    };
    result = aspoObjective(objectiveInput);
  }

  const weightOfSentence = (i: number): number => {
    if (input.granularity === 'sentence' || !unitWeights) return sentenceWeights.weight[i];
    const own = chosenTokens.tokenSentence
      .map((s, t) => (s === i ? unitWeights!.weights[unitWeights!.tokenUnit[t]] : null))
      .filter((w): w is number => w !== null);
    return own.length ? own.reduce((a, b) => a + b, 0) / own.length : 0;
  };

  const tokensOf = (scored: ScoredResponse | undefined, map: number[], i: number) =>
    scored ? scored.tokens.filter((_, t) => map[t] === i) : undefined;

  return {
    chosen: chosenSpans.map((span, i) => ({
      ...span,
      numbers: chosenNumbers[i],
      sources: chosenResolved[i].sources,
      perplexity: chosen.perplexity[i],
      reward: chosen.rewards[i],
      simNorm: sentenceWeights.simNorm[i],
      pplNorm: sentenceWeights.pplNorm[i],
      weight: weightOfSentence(i),
      tokens: tokensOf(chosenScored, chosenTokens.tokenSentence, i),
    })),
    rejected: rejectedSpans.map((span, i) => ({
      ...span,
      numbers: rejectedNumbers[i],
      sources: rejectedResolved[i].sources,
      perplexity: rejected.perplexity[i],
      reward: rejected.rewards[i],
      tokens: tokensOf(rejectedScored, rejectedTokens.tokenSentence, i),
    })),
    result,
    objectiveInput,
  };
}
