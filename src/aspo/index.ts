export { splitSentences, assignTokensToSentences } from './sentences';
export type { SentenceSpan } from './sentences';
export { sentencePerplexity, adaptiveWeights } from './weights';
export { sentenceRewards, aspoObjective, granularityUnits } from './objective';
export type { AspoInput, AspoResult } from './objective';
export { ASPO_SETTINGS, DEFAULT_ASPO_SETTINGS, METHOD_PRESETS, choiceOf } from './settings';
export type { ChoiceSetting, Granularity, Normalization, NumberSetting, PerplexitySource } from './settings';
export { aspoObjectiveTf } from './objective.tf';
