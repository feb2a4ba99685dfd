/**
 * Training settings: the method's (objective, α, β, λ normalisation, granularity, perplexity source; declared in
 * `src/aspo/settings.ts`) plus LoRA and the optimisation loop, declared here the same way, so that the Train tab's
 * form, the `train` command's options and `validateSettings` read each one's range, label and option from one
 * place. Defaults fit a small model in a browser (method-spec, "Training as in the paper").
 * Plain JSON, so that settings travel to a Web Worker, into a checkpoint and into IndexedDB unchanged.
 */
import { ASPO_SETTINGS, DEFAULT_ASPO_SETTINGS, settingProblem, type AspoSettings, type NumberSetting, type Setting } from '../aspo/settings';
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

/** The largest seed: the generator keeps 32 bits of it, so 2^32 would run as 0. */
export const SEED_MAX = 2 ** 32 - 1;

/** The training loop's settings, keyed by their path in `TrainSettings`. */
const LOOP_SETTINGS = {
  'lora.r': { kind: 'number', name: 'lora.r (rank)', flag: 'rank', label: 'LoRA rank r', default: 16, min: 1, integer: true, step: 1 },
  'lora.alpha': { kind: 'number', name: 'lora.alpha', flag: 'lora-alpha', label: 'LoRA alpha', default: 32, min: 0, aboveMin: true, step: 1 },
  lr: { kind: 'number', name: 'lr (learning rate)', flag: 'lr', label: 'Learning rate', default: 5e-5, min: 0, aboveMin: true, step: 1e-5 },
  warmupSteps: { kind: 'number', name: 'warmupSteps', flag: 'warmup', label: 'Warm-up steps', default: 0, min: 0, integer: true, step: 1 },
  batchSize: { kind: 'number', name: 'batchSize', flag: 'batch-size', label: 'Batch size (accumulation)', default: 4, min: 1, integer: true, step: 1 },
  maxSeqLen: { kind: 'number', name: 'maxSeqLen', flag: 'max-seq-len', label: 'Max sequence length', default: 1024, min: 4, integer: true, step: 1 },
  gradClipNorm: {
    kind: 'number',
    name: 'gradClipNorm',
    flag: 'grad-clip',
    label: 'Grad clip (global norm)',
    default: 1,
    min: 0,
    step: 0.1,
    note: '0 turns clipping off',
  },
  steps: { kind: 'number', name: 'steps', flag: 'steps', label: 'Steps', min: 1, integer: true, step: 1 },
  epochs: { kind: 'number', name: 'epochs', label: 'Epochs', min: 0, aboveMin: true, step: 0.1 },
  seed: { kind: 'number', name: 'seed', flag: 'seed', label: 'Seed', default: 0, min: 0, max: SEED_MAX, integer: true, step: 1 },
} as const satisfies Record<string, NumberSetting>;

/** Every setting of a run, the method's first, keyed by its path in `TrainSettings` (`lora.r` for `s.lora.r`). */
export const TRAIN_SETTINGS = { ...ASPO_SETTINGS, ...LOOP_SETTINGS } as const satisfies Record<string, Setting>;

export type TrainSettingKey = keyof typeof TRAIN_SETTINGS;

export const TRAIN_SETTING_KEYS = Object.keys(TRAIN_SETTINGS) as TrainSettingKey[];

export const DEFAULT_TRAIN_SETTINGS: Readonly<TrainSettings> = Object.freeze({
  ...DEFAULT_ASPO_SETTINGS,
  lora: Object.freeze({ r: LOOP_SETTINGS['lora.r'].default, alpha: LOOP_SETTINGS['lora.alpha'].default, targetModules: [...DEFAULT_LORA_TARGETS] }) as LoraSettings,
  lr: LOOP_SETTINGS.lr.default,
  warmupSteps: LOOP_SETTINGS.warmupSteps.default,
  batchSize: LOOP_SETTINGS.batchSize.default,
  steps: null,
  epochs: 1,
  maxSeqLen: LOOP_SETTINGS.maxSeqLen.default,
  gradClipNorm: LOOP_SETTINGS.gradClipNorm.default,
  seed: LOOP_SETTINGS.seed.default,
}) as TrainSettings;

export type TrainSettingsInput = Partial<Omit<TrainSettings, 'lora'>> & { lora?: Partial<LoraSettings> };

/** The value of one setting (undefined where a partial input leaves it out). */
export function settingValue(s: TrainSettingsInput, key: TrainSettingKey): unknown {
  if (key === 'lora.r') return s.lora?.r;
  if (key === 'lora.alpha') return s.lora?.alpha;
  return s[key];
}

/** `input` with one setting set, by its key in TRAIN_SETTINGS. */
export function withSetting(input: TrainSettingsInput, key: TrainSettingKey, value: unknown): TrainSettingsInput {
  if (key === 'lora.r' || key === 'lora.alpha') return { ...input, lora: { ...input.lora, [key === 'lora.r' ? 'r' : 'alpha']: value } };
  return { ...input, [key]: value };
}

/** Every problem with the settings, each a sentence naming the field; empty when they are valid. */
export function validateSettings(s: TrainSettings): string[] {
  const errors: string[] = [];
  for (const key of TRAIN_SETTING_KEYS) {
    const value = settingValue(s, key);
    // steps and epochs: one of them is null, said below.
    if ((key === 'steps' || key === 'epochs') && value === null) continue;
    const problem = settingProblem(TRAIN_SETTINGS[key], value);
    if (problem) errors.push(problem);
  }
  if (!s.lora || !Array.isArray(s.lora.targetModules) || s.lora.targetModules.length === 0 || s.lora.targetModules.some((m) => typeof m !== 'string' || m === '')) {
    errors.push('lora.targetModules must be a non-empty list of module names such as "q_proj"');
  }
  if (s.steps === null && s.epochs === null) errors.push('give either steps or epochs');
  if (s.steps !== null && s.epochs !== null) errors.push(`give steps or epochs, not both (steps ${s.steps}, epochs ${s.epochs})`);
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
