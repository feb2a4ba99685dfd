/**
 * Training settings: the method's (objective, α, β, λ normalisation, granularity, perplexity source) plus LoRA
 * and the optimisation loop. Defaults fit a small model in a browser (method-spec, "Training as in the paper").
 * Plain JSON, so that settings travel to a Web Worker, into a checkpoint and into IndexedDB unchanged.
 */
import type { AspoSettings, Granularity, Normalization, PerplexitySource } from '../aspo/objective';
import { DEFAULT_LORA_TARGETS } from '../models/tfjs/lora';

export interface LoraSettings {
  /** rank r */
  r: number;
  /** lora_alpha; the update is scaled by alpha / r */
  alpha: number;
  /** last segment of the module names that get an adapter (e.g. `q_proj`); default every linear of the LM */
  targetModules: string[];
}

export interface TrainSettings extends AspoSettings {
  lora: LoraSettings;
  /** peak learning rate of Adam */
  lr: number;
  /** optimizer steps of linear warm-up before the cosine decay */
  warmupSteps: number;
  /** pairs per optimizer step, by gradient accumulation (one pair's forward and backward at a time) */
  batchSize: number;
  /** number of optimizer steps; when null, `epochs` decides */
  steps: number | null;
  /** passes over the training pairs (may be fractional); used when `steps` is null */
  epochs: number | null;
  /** longest prompt + response, in tokens; longer responses are truncated, with a notice in the step report */
  maxSeqLen: number;
  /** clip the gradient to this global L2 norm; 0 turns clipping off */
  gradClipNorm: number;
  /** seeds the LoRA initialisation and the data order */
  seed: number;
}

export const DEFAULT_TRAIN_SETTINGS: Readonly<TrainSettings> = Object.freeze({
  objective: 'aspo',
  alpha: 0.5,
  beta: 0.1,
  normalization: 'mean',
  granularity: 'sentence',
  perplexitySource: 'policy',
  lora: Object.freeze({ r: 16, alpha: 32, targetModules: [...DEFAULT_LORA_TARGETS] }) as LoraSettings,
  lr: 5e-5,
  warmupSteps: 0,
  batchSize: 4,
  steps: null,
  epochs: 1,
  maxSeqLen: 1024,
  gradClipNorm: 1,
  seed: 0,
}) as TrainSettings;

/** The largest seed: the generator keeps 32 bits of it, so 2^32 would run as 0. */
export const SEED_MAX = 2 ** 32 - 1;

const NORMALIZATIONS: readonly Normalization[] = ['mean', 'reward-ratio', 'none'];
const GRANULARITIES: readonly Granularity[] = ['sentence', 'response', 'token'];
const PERPLEXITY_SOURCES: readonly PerplexitySource[] = ['policy', 'reference'];

export type TrainSettingsInput = Partial<Omit<TrainSettings, 'lora'>> & { lora?: Partial<LoraSettings> };

/** Every problem with the settings, each a sentence naming the field; empty when they are valid. */
export function validateSettings(s: TrainSettings): string[] {
  const errors: string[] = [];
  const positiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (s.objective !== 'dpo' && s.objective !== 'aspo') errors.push(`objective must be "dpo" or "aspo", got ${JSON.stringify(s.objective)}`);
  if (!finite(s.alpha) || s.alpha < 0 || s.alpha > 1) errors.push(`alpha (α) must be in [0, 1], got ${s.alpha}`);
  if (!finite(s.beta) || s.beta <= 0) errors.push(`beta (β) must be a positive number, got ${s.beta}`);
  if (!NORMALIZATIONS.includes(s.normalization)) {
    errors.push(`normalization must be one of ${NORMALIZATIONS.join(', ')}, got ${JSON.stringify(s.normalization)}`);
  }
  if (!GRANULARITIES.includes(s.granularity)) {
    errors.push(`granularity must be one of ${GRANULARITIES.join(', ')}, got ${JSON.stringify(s.granularity)}`);
  }
  if (!PERPLEXITY_SOURCES.includes(s.perplexitySource)) {
    errors.push(`perplexitySource must be "policy" or "reference", got ${JSON.stringify(s.perplexitySource)}`);
  }
  if (!s.lora || !positiveInt(s.lora.r)) errors.push(`lora.r (rank) must be a positive integer, got ${s.lora?.r}`);
  if (!s.lora || !finite(s.lora.alpha) || s.lora.alpha <= 0) errors.push(`lora.alpha must be a positive number, got ${s.lora?.alpha}`);
  if (!s.lora || !Array.isArray(s.lora.targetModules) || s.lora.targetModules.length === 0 || s.lora.targetModules.some((m) => typeof m !== 'string' || m === '')) {
    errors.push('lora.targetModules must be a non-empty list of module names such as "q_proj"');
  }
  if (!finite(s.lr) || s.lr <= 0) errors.push(`lr (learning rate) must be a positive number, got ${s.lr}`);
  if (!(Number.isInteger(s.warmupSteps) && s.warmupSteps >= 0)) errors.push(`warmupSteps must be a non-negative integer, got ${s.warmupSteps}`);
  if (!positiveInt(s.batchSize)) errors.push(`batchSize must be a positive integer, got ${s.batchSize}`);
  if (s.steps === null && s.epochs === null) errors.push('give either steps or epochs');
  if (s.steps !== null && s.epochs !== null) errors.push(`give steps or epochs, not both (steps ${s.steps}, epochs ${s.epochs})`);
  if (s.steps !== null && !positiveInt(s.steps)) errors.push(`steps must be a positive integer, got ${s.steps}`);
  if (s.epochs !== null && (!finite(s.epochs) || s.epochs <= 0)) errors.push(`epochs must be a positive number, got ${s.epochs}`);
  if (!positiveInt(s.maxSeqLen) || s.maxSeqLen < 4) errors.push(`maxSeqLen must be an integer of at least 4, got ${s.maxSeqLen}`);
  if (!finite(s.gradClipNorm) || s.gradClipNorm < 0) errors.push(`gradClipNorm must be ≥ 0 (0 turns clipping off), got ${s.gradClipNorm}`);
  if (!(Number.isInteger(s.seed) && s.seed >= 0 && s.seed <= SEED_MAX)) errors.push(`seed must be an integer from 0 to ${SEED_MAX}, got ${s.seed}`);
  return errors;
}

/**
 * Defaults overlaid with `input` and validated. Giving `steps` clears the default `epochs` (and vice versa), so
 * `{ steps: 30 }` is enough. Throws a RangeError listing every problem.
 */
export function resolveSettings(input: TrainSettingsInput = {}): TrainSettings {
  const base = DEFAULT_TRAIN_SETTINGS;
  const settings: TrainSettings = {
    ...base,
    ...input,
    lora: { ...base.lora, targetModules: [...base.lora.targetModules], ...(input.lora ?? {}) },
  };
  if (input.steps !== undefined && input.steps !== null && input.epochs === undefined) settings.epochs = null;
  if (input.epochs !== undefined && input.epochs !== null && input.steps === undefined) settings.steps = null;
  const errors = validateSettings(settings);
  if (errors.length > 0) throw new RangeError(`Invalid training settings: ${errors.join('; ')}`);
  return settings;
}

/** Optimizer steps of a run on `pairCount` training pairs. */
export function totalSteps(settings: TrainSettings, pairCount: number): number {
  if (settings.steps !== null) return settings.steps;
  if (pairCount <= 0) throw new RangeError('there are no training pairs');
  return Math.max(1, Math.ceil(((settings.epochs ?? 1) * pairCount) / settings.batchSize));
}
