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
export type { AspoInput, AspoResult, PairScores, BatchMetrics } from './objective';
export { ASPO_SETTINGS, DEFAULT_ASPO_SETTINGS, METHOD_PRESETS, choiceOf } from './settings';
export type { AspoSettings, ChoiceSetting, Granularity, Normalization, NumberSetting, PerplexitySource } from './settings';
export { aspoObjectiveTf } from './objective.tf';
export type { AspoTfInput, AspoTfResult } from './objective.tf';
export { clipSimilarity } from './similarity';
export { sentenceWeightsTf } from './weights.tf';
