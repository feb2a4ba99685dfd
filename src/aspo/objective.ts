/**
 * The ASPO objective on plain numbers (float64): sentence rewards, the
 * reweighted margin, the loss, the granularity ablation and the batch metrics
 * the trainer logs. The differentiable version is in `objective.tf.ts`.
 */
import {
  adaptiveWeights,
  combineWeights,
  minMaxNormalize,
  negatedMinMaxNormalize,
  sentencePerplexity,
  sequencePerplexity,
} from './weights';

import type { AspoSettings, Normalization, PerplexitySource } from './settings';

/** Below this `|R*_c|` the reward ratio is numerically meaningless. */
export const REWARD_RATIO_EPSILON = 1e-6;

function assertSameLength(a: readonly unknown[], aName: string, b: readonly unknown[], bName: string): void {
  if (a.length !== b.length) {
    throw new RangeError(`${aName} has ${a.length} entries but ${bName} has ${b.length}; they must match`);
  }
}

function assertFiniteNumber(value: number, name: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${value}`);
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/**
 * Eq. 11: `r_i = β Σ_{t∈s_i} (ℓ^θ_t − ℓ^ref_t)`, one reward per unit.
 *
 * Units are sentences in the method and tokens or whole responses in the
 * ablation, hence the generic `tokenUnit`. A unit without tokens earns 0.
 */
export function sentenceRewards(
  policyLogps: number[],
  refLogps: number[],
  tokenUnit: number[],
  unitCount: number,
  beta: number,
): number[] {
  assertFiniteNumber(beta, 'beta');
  if (!Number.isInteger(unitCount) || unitCount < 0) {
    throw new RangeError(`unitCount must be a non-negative integer, got ${unitCount}`);
  }
  assertSameLength(policyLogps, 'policyLogps', refLogps, 'refLogps');
  assertSameLength(policyLogps, 'policyLogps', tokenUnit, 'tokenUnit');
  const sums = new Array<number>(unitCount).fill(0);
  for (let t = 0; t < tokenUnit.length; t++) {
    const u = tokenUnit[t];
    if (!Number.isInteger(u) || u < 0 || u >= unitCount) {
      throw new RangeError(`tokenUnit[${t}] = ${u} is not a unit index in [0, ${unitCount})`);
    }
    sums[u] += policyLogps[t] - refLogps[t];
  }
  return sums.map((s) => beta * s);
}

/**
 * λ of the `mean` setting, `K / Σ_i (1 + w_i)`: rescales the weights to mean
 * 1 so that a response does not gain margin merely by having more, or more
 * highly weighted, sentences. No units means nothing to rescale: 1.
 */
export function meanLambda(weights: number[]): number {
  if (weights.length === 0) return 1;
  let total = 0;
  for (const w of weights) total += 1 + w;
  return weights.length / total;
}

/**
 * λ of the ASPO margin. The paper's `λ = R_c / R*_c` is 0/0 at the first step
 * (policy = reference) and flips sign near 0, so it is one of three settings:
 * `mean` (default, see `meanLambda`), `reward-ratio` (the literal reading,
 * falling back to `mean` when `|R*_c| < 1e-6`; the caller must treat it as
 * constant in the gradient), and `none` (λ = 1, ablation).
 */
export function aspoLambda(
  sentenceRewards: number[],
  weights: number[],
  normalization: Normalization,
): number {
  assertSameLength(sentenceRewards, 'sentenceRewards', weights, 'weights');
  switch (normalization) {
    case 'none':
      return 1;
    case 'mean':
      return meanLambda(weights);
    case 'reward-ratio': {
      const rewardChosen = sum(sentenceRewards);
      const rewardChosenWeighted = weightedReward(sentenceRewards, weights);
      if (!(Math.abs(rewardChosenWeighted) >= REWARD_RATIO_EPSILON)) return meanLambda(weights);
      return rewardChosen / rewardChosenWeighted;
    }
    default:
      throw new RangeError(`unknown normalization ${String(normalization)}`);
  }
}

function weightedReward(rewards: readonly number[], weights: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < rewards.length; i++) s += (1 + weights[i]) * rewards[i];
  return s;
}

/**
 * `log σ(x)` without overflow: `exp` only ever sees a non-positive argument,
 * so large |x| gives `x` or `0` instead of `−Infinity` or NaN.
 */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

/**
 * Eq. 13: `−log σ(margin)`, the per-pair loss of both DPO (margin `M`) and
 * ASPO (margin `M*`); the batch loss is its mean.
 */
export function dpoLoss(margin: number): number {
  return -logSigmoid(margin);
}

export interface AspoInput {
  chosen: {
    policyLogps: number[];
    refLogps: number[];
    /** Unit (sentence) index of each chosen token. */
    tokenSentence: number[];
    /** One weight `w_i ∈ [0, 1]` per unit of the chosen response. */
    weights: number[];
  };
  rejected: { policyLogps: number[]; refLogps: number[] };
  beta: number;
  normalization: Normalization;
}

export interface AspoResult {
  /** ASPO loss `−log σ(M*)`. */
  loss: number;
  /** `M*`. */
  margin: number;
  lambda: number;
  /** DPO loss `−log σ(M)`. */
  dpoLoss: number;
  /** `M = R_c − R_r`. */
  dpoMargin: number;
  /** `R_c`. */
  rewardChosen: number;
  /** `R_r`. */
  rewardRejected: number;
  /** `R*_c`. */
  rewardChosenWeighted: number;
  sentenceRewardsChosen: number[];
  /** Summed policy log-probs of the chosen response. */
  logpsChosen: number;
  /** Summed policy log-probs of the rejected response. */
  logpsRejected: number;
}

/**
 * Eq. 12: `R*_c = Σ_i (1 + w_i)·r^c_i`, `M* = λ·R*_c − R_r`. Only the chosen
 * response is reweighted: the weights say which of its sentences are well
 * grounded in the image, and the rejected response has no such reference. DPO's
 * margin and loss come alongside for comparison.
 */
export function aspoObjective(input: AspoInput): AspoResult {
  const { chosen, rejected, beta, normalization } = input;
  const unitCount = chosen.weights.length;
  const sentenceRewardsChosen = sentenceRewards(
    chosen.policyLogps,
    chosen.refLogps,
    chosen.tokenSentence,
    unitCount,
    beta,
  );
  const rewardRejected = sentenceRewards(
    rejected.policyLogps,
    rejected.refLogps,
    rejected.policyLogps.map(() => 0),
    1,
    beta,
  )[0];
  const rewardChosen = sum(sentenceRewardsChosen);
  const rewardChosenWeighted = weightedReward(sentenceRewardsChosen, chosen.weights);
  const lambda = aspoLambda(sentenceRewardsChosen, chosen.weights, normalization);
  const margin = lambda * rewardChosenWeighted - rewardRejected;
  const dpoMargin = rewardChosen - rewardRejected;
  return {
    loss: dpoLoss(margin),
    margin,
    lambda,
    dpoLoss: dpoLoss(dpoMargin),
    dpoMargin,
    rewardChosen,
    rewardRejected,
    rewardChosenWeighted,
    sentenceRewardsChosen,
    logpsChosen: sum(chosen.policyLogps),
    logpsRejected: sum(rejected.policyLogps),
  };
}

export interface PairScores {
  chosen: {
    policyLogps: number[];
    refLogps: number[];
    /** Sentence index of each chosen token. */
    tokenSentence: number[];
    /** `S_i` per sentence, from the CLIP scorer. */
    similarity: number[];
  };
  rejected: { policyLogps: number[]; refLogps: number[] };
}

function perplexityLogps(pair: PairScores, source: PerplexitySource): number[] {
  return source === 'policy' ? pair.chosen.policyLogps : pair.chosen.refLogps;
}

function mean(values: readonly number[]): number {
  return sum(values) / values.length;
}

/** The units of one chosen response: the unit of each token and one weight per unit. */
export interface UnitWeights {
  tokenUnit: number[];
  weights: number[];
}

/**
 * The units of each chosen response and their weights, for the granularity
 * ablation. `sentence` is the method. `token` gives every token its own unit,
 * `P̂` from the token's own perplexity `exp(−ℓ_t)` normalised over the
 * response's tokens, and `Ŝ` of the sentence holding it (normalised over
 * sentences). `response` makes each chosen response one unit whose weight is
 * normalised across the batch, as normalising over a single unit would always
 * give 0; its similarity is the mean of its sentence similarities (CLIP scores
 * sentences, not whole answers, and its text encoder truncates long ones) and
 * its perplexity that of all its tokens. Under the `dpo` objective every
 * weight is 0, which makes the ASPO margin the DPO margin.
 */
export function granularityUnits(pairs: PairScores[], settings: AspoSettings): UnitWeights[] {
  const { alpha, granularity, perplexitySource } = settings;
  const dpo = settings.objective === 'dpo';
  switch (granularity) {
    case 'sentence':
      return pairs.map((pair) => {
        const { tokenSentence, similarity } = pair.chosen;
        const perplexity = sentencePerplexity(
          perplexityLogps(pair, perplexitySource),
          tokenSentence,
          similarity.length,
        );
        const { weight } = adaptiveWeights(similarity, perplexity, alpha);
        return { tokenUnit: tokenSentence.slice(), weights: dpo ? weight.map(() => 0) : weight };
      });
    case 'token':
      return pairs.map((pair) => {
        const { tokenSentence, similarity } = pair.chosen;
        const logps = perplexityLogps(pair, perplexitySource);
        const tokenUnit = tokenSentence.map((_, t) => t);
        const tokenPerplexity = sentencePerplexity(logps, tokenUnit, tokenUnit.length);
        // Validates tokenSentence against the sentence count before indexing.
        sentencePerplexity(logps, tokenSentence, similarity.length);
        const sentenceSimNorm = minMaxNormalize(similarity);
        const simNorm = tokenSentence.map((s) => sentenceSimNorm[s]);
        const weight = combineWeights(simNorm, negatedMinMaxNormalize(tokenPerplexity), alpha);
        return { tokenUnit, weights: dpo ? weight.map(() => 0) : weight };
      });
    case 'response': {
      const similarity = pairs.map((pair, p) => {
        if (pair.chosen.similarity.length === 0) {
          throw new RangeError(`pair ${p}: response granularity needs at least one sentence similarity`);
        }
        return mean(pair.chosen.similarity);
      });
      const perplexity = pairs.map((pair) => sequencePerplexity(perplexityLogps(pair, perplexitySource)));
      const { weight } = adaptiveWeights(similarity, perplexity, alpha);
      return pairs.map((pair, p) => ({
        tokenUnit: pair.chosen.policyLogps.map(() => 0),
        weights: [dpo ? 0 : weight[p]],
      }));
    }
    default:
      throw new RangeError(`unknown granularity ${String(granularity)}`);
  }
}

/** Batch means, keyed as TRL's DPOTrainer logs them, plus ASPO's own. */
export interface BatchMetrics {
  /** Mean DPO loss under objective `dpo`, mean ASPO loss under `aspo`. */
  loss: number;
  'rewards/chosen': number;
  'rewards/rejected': number;
  /** Mean of `R_c − R_r`. */
  'rewards/margins': number;
  /** Share of pairs with `R_c > R_r`. */
  'rewards/accuracies': number;
  'logps/chosen': number;
  'logps/rejected': number;
  /** Mean `M*`. */
  'aspo/margin': number;
  'aspo/lambda': number;
  /** Over all units of all chosen responses. */
  'aspo/weight_mean': number;
  /** Population standard deviation over all units of all chosen responses. */
  'aspo/weight_std': number;
}

/**
 * What the trainer logs for one batch. An empty batch has no means: it throws. `given`: the batch's
 * `granularityUnits`, when the caller has them already.
 */
export function aspoBatchMetrics(pairs: PairScores[], settings: AspoSettings, given?: UnitWeights[]): BatchMetrics {
  if (pairs.length === 0) throw new RangeError('aspoBatchMetrics needs at least one pair');
  const units = given ?? granularityUnits(pairs, settings);
  const results = pairs.map((pair, p) =>
    aspoObjective({
      chosen: {
        policyLogps: pair.chosen.policyLogps,
        refLogps: pair.chosen.refLogps,
        tokenSentence: units[p].tokenUnit,
        weights: units[p].weights,
      },
      rejected: pair.rejected,
      beta: settings.beta,
      normalization: settings.normalization,
    }),
  );
  const allWeights = units.flatMap((u) => u.weights);
  const weightMean = allWeights.length === 0 ? 0 : mean(allWeights);
  const weightStd =
    allWeights.length === 0
      ? 0
      : Math.sqrt(mean(allWeights.map((w) => (w - weightMean) * (w - weightMean))));
  const over = (f: (r: AspoResult) => number) => mean(results.map(f));
  return {
    loss: over((r) => (settings.objective === 'dpo' ? r.dpoLoss : r.loss)),
    'rewards/chosen': over((r) => r.rewardChosen),
    'rewards/rejected': over((r) => r.rewardRejected),
    'rewards/margins': over((r) => r.rewardChosen - r.rewardRejected),
    'rewards/accuracies': over((r) => (r.rewardChosen > r.rewardRejected ? 1 : 0)),
    'logps/chosen': over((r) => r.logpsChosen),
    'logps/rejected': over((r) => r.logpsRejected),
    'aspo/margin': over((r) => r.margin),
    'aspo/lambda': over((r) => r.lambda),
    'aspo/weight_mean': weightMean,
    'aspo/weight_std': weightStd,
  };
}
