/** Training: the ASPO / DPO loop on the TF.js engine, its settings, schedule and PEFT adapter files. */
export {
  Trainer,
  loraOptions,
  sandboxImageLoader,
  resetAdapters,
  epochOrder,
  pairsFingerprint,
  type TrainerOptions,
  type StepReport,
  type PrepareProgress,
  type EvaluationResult,
  type TrainerCheckpoint,
  type ImageLoader,
  type SimilarityFn,
} from './trainer';
export { resolveSettings, validateSettings, totalSteps, DEFAULT_TRAIN_SETTINGS, type TrainSettings, type TrainSettingsInput, type LoraSettings } from './settings';
export { learningRate } from './schedule';
export { exportPeftAdapter, importPeftAdapter, peftAdapterConfig, peftTargetModules, type PeftFiles, type PeftExportOptions } from './peft';
export { Adam, type AdamState } from './adam';
