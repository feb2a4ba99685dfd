export { splitSentences, assignTokensToSentences } from './sentences';
export type { SentenceSpan } from './sentences';
export {
  minMaxNormalize,
  negatedMinMaxNormalize,
  sequencePerplexity,
  sentencePerplexity,
  adaptiveWeights,
} from './weights';
export type { AdaptiveWeights } from './weights';
export {
  sentenceRewards,
  aspoLambda,
  aspoObjective,
  dpoLoss,
  logSigmoid,
  granularityUnits,
  aspoBatchMetrics,
} from './objective';
export type {
  Normalization,
  Granularity,
  PerplexitySource,
  AspoInput,
  AspoResult,
  PairScores,
  AspoSettings,
  BatchMetrics,
} from './objective';
export { aspoObjectiveTf } from './objective.tf';
export type { AspoTfInput, AspoTfResult } from './objective.tf';
export { clipSimilarity } from './similarity';
export { sentenceWeightsTf } from './weights.tf';
