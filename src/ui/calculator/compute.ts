import {
  adaptiveWeights,
  aspoObjective,
  sentencePerplexity,
  sentenceRewards,
  splitSentences,
  type AspoResult,
  type Normalization,
  type PerplexitySource,
  type SentenceSpan,
} from '../../aspo';
import type { SentenceNumbers } from '../../data/examples';

export interface CalculatorInput {
  chosen: string;
  rejected: string;
  chosenNumbers: SentenceNumbers[];
  rejectedNumbers: SentenceNumbers[];
  alpha: number;
  beta: number;
  normalization: Normalization;
  perplexitySource: PerplexitySource;
}

/** One sentence as the calculator shows it. Weight fields exist for the chosen side only (only the chosen response is reweighted). */
export interface SentenceRow extends SentenceSpan {
  numbers: SentenceNumbers;
  perplexity: number;
  reward: number;
  simNorm?: number;
  pplNorm?: number;
  weight?: number;
}

export interface CalculatorView {
  chosen: SentenceRow[];
  rejected: SentenceRow[];
  /** Null while either response is empty: there is no pair to score. */
  result: AspoResult | null;
}

/** A first guess for a sentence the user has not numbered yet: about four characters a token, equal policy and reference. */
export function defaultNumbers(sentence: string): SentenceNumbers {
  const tokens = Math.max(1, Math.round(sentence.trim().length / 4));
  const logp = Math.round(-1.2 * tokens * 100) / 100;
  return { similarity: 0.25, policyLogp: logp, refLogp: logp, tokens };
}

/** The stored numbers for each sentence, with defaults for sentences that appeared since. */
export function numbersForSentences(spans: SentenceSpan[], stored: SentenceNumbers[]): SentenceNumbers[] {
  return spans.map((span, i) => stored[i] ?? defaultNumbers(span.text));
}

/**
 * The calculator knows only each sentence's summed log-prob and token count; spreading the sum evenly over its
 * tokens gives per-token log-probs with the same sum and the same sentence perplexity, so the real per-token
 * functions of src/aspo run unchanged.
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

function scoreSide(spans: SentenceSpan[], numbers: SentenceNumbers[], input: CalculatorInput) {
  const tokens = spreadOverTokens(numbers);
  const pplLogps = input.perplexitySource === 'policy' ? tokens.policyLogps : tokens.refLogps;
  const perplexity = sentencePerplexity(pplLogps, tokens.tokenSentence, spans.length);
  const rewards = sentenceRewards(tokens.policyLogps, tokens.refLogps, tokens.tokenSentence, spans.length, input.beta);
  return { tokens, perplexity, rewards };
}

export function computeCalculator(input: CalculatorInput): CalculatorView {
  const chosenSpans = splitSentences(input.chosen);
  const rejectedSpans = splitSentences(input.rejected);
  const chosenNumbers = numbersForSentences(chosenSpans, input.chosenNumbers);
  const rejectedNumbers = numbersForSentences(rejectedSpans, input.rejectedNumbers);
  const chosen = scoreSide(chosenSpans, chosenNumbers, input);
  const rejected = scoreSide(rejectedSpans, rejectedNumbers, input);
  const weights = adaptiveWeights(
    chosenNumbers.map((n) => n.similarity),
    chosen.perplexity,
    input.alpha,
  );
  const result =
    chosenSpans.length && rejectedSpans.length
      ? aspoObjective({
          chosen: { ...chosen.tokens, weights: weights.weight },
          rejected: { policyLogps: rejected.tokens.policyLogps, refLogps: rejected.tokens.refLogps },
          beta: input.beta,
          normalization: input.normalization,
        })
      : null;
  return {
    chosen: chosenSpans.map((span, i) => ({
      ...span,
      numbers: chosenNumbers[i],
      perplexity: chosen.perplexity[i],
      reward: chosen.rewards[i],
      simNorm: weights.simNorm[i],
      pplNorm: weights.pplNorm[i],
      weight: weights.weight[i],
    })),
    rejected: rejectedSpans.map((span, i) => ({
      ...span,
      numbers: rejectedNumbers[i],
      perplexity: rejected.perplexity[i],
      reward: rejected.rewards[i],
    })),
    result,
  };
}
