/**
 * The method's settings, declared once: for objective, α, β, the λ normalisation, the granularity and the
 * perplexity source, their allowed values, defaults, ranges, labels, command-line options and TeX. The Inspect and
 * Train tabs' forms, the `train` command's options, usage and validation, and the equations panel all read them
 * from here, so a new choice (say, another λ normalisation) is added in this file and in the code that computes it
 * (`aspoLambda` for λ). The training loop's own settings are declared the same way in `src/train/settings.ts`.
 * Why each default is what it is: `docs/method.md`, "Choices".
 */

export interface Choice<T extends string> {
  readonly value: T;
  /** how a form lists it */
  readonly label: string;
  /** its formula, where it has one (the equations panel shows it) */
  readonly tex?: string;
}

interface SettingBase {
  /** how messages name it */
  readonly name: string;
  /** the command-line option, `--flag`; absent where the command line does not set it */
  readonly flag?: string;
  /** how a form labels it */
  readonly label: string;
}

export interface ChoiceSetting<T extends string = string> extends SettingBase {
  readonly kind: 'choice';
  readonly choices: readonly Choice<T>[];
  readonly default: T;
}

export interface NumberSetting extends SettingBase {
  readonly kind: 'number';
  /** absent where another setting decides (steps or epochs) */
  readonly default?: number;
  readonly min?: number;
  /** `min` itself is refused (β > 0) */
  readonly aboveMin?: boolean;
  readonly max?: number;
  readonly integer?: boolean;
  /** how far a form's arrows and slider move it */
  readonly step: number;
  /** what a slider spans where the allowed range is open or wider than useful */
  readonly slider?: { readonly min: number; readonly max: number };
  /** what a value at the edge of the range means, said with the range */
  readonly note?: string;
}

export type Setting = ChoiceSetting | NumberSetting;

const OBJECTIVE = {
  kind: 'choice', name: 'objective', flag: 'objective', label: 'Objective', default: 'aspo',
  choices: [
    { value: 'dpo', label: 'DPO' },
    { value: 'aspo', label: 'ASPO' },
  ],
} as const satisfies ChoiceSetting;

/** Eq. 12's λ: how it keeps the weight increase from inflating the margin; computed by `aspoLambda`. */
const NORMALIZATION = {
  kind: 'choice', name: 'normalization', flag: 'normalization', label: 'λ normalisation', default: 'mean',
  choices: [
    { value: 'mean', label: 'mean — λ = K / Σ(1 + w_i)', tex: '\\frac{K}{\\sum_i (1 + w_i)}' },
    { value: 'reward-ratio', label: 'reward-ratio — λ = R_c / R*_c (paper, literal)', tex: '\\operatorname{sg}\\!\\left(\\frac{R_c}{R^*_c}\\right)' },
    { value: 'none', label: 'none — λ = 1 (ablation)', tex: '1' },
  ],
} as const satisfies ChoiceSetting;

/** The unit the weights attach to (paper Table 6); see `granularityUnits`. */
const GRANULARITY = {
  kind: 'choice', name: 'granularity', flag: 'granularity', label: 'Granularity', default: 'sentence',
  choices: [
    { value: 'sentence', label: 'sentence (ASPO)' },
    { value: 'response', label: 'response (ablation; one pair → all weights 0)' },
    { value: 'token', label: 'token (ablation)' },
  ],
} as const satisfies ChoiceSetting;

/** Which model's log-probs `ℓ_t` give the perplexity part of the weights (Eq. 9). */
const PERPLEXITY_SOURCE = {
  kind: 'choice', name: 'perplexitySource', flag: 'perplexity-source', label: 'Perplexity from', default: 'policy',
  choices: [
    { value: 'policy', label: 'policy (adaptive, detached)', tex: '\\ell^\\theta_t' },
    { value: 'reference', label: 'reference (fixed)', tex: '\\ell^{\\mathrm{ref}}_t' },
  ],
} as const satisfies ChoiceSetting;

export type Objective = (typeof OBJECTIVE)['choices'][number]['value'];
export type Normalization = (typeof NORMALIZATION)['choices'][number]['value'];
export type Granularity = (typeof GRANULARITY)['choices'][number]['value'];
export type PerplexitySource = (typeof PERPLEXITY_SOURCE)['choices'][number]['value'];

export interface AspoSettings {
  objective: Objective;
  /** Eq. 10's mix: 1 weighs by similarity only (ASPO-S), 0 by perplexity only (ASPO-P) */
  alpha: number;
  /** Eq. 11's KL strength */
  beta: number;
  normalization: Normalization;
  granularity: Granularity;
  perplexitySource: PerplexitySource;
}

export const ASPO_SETTINGS = {
  objective: OBJECTIVE,
  alpha: {
    kind: 'number',
    name: 'alpha (α)',
    flag: 'alpha',
    label: 'α (similarity ↔ perplexity)',
    default: 0.5,
    min: 0,
    max: 1,
    step: 0.01,
  },
  beta: {
    kind: 'number',
    name: 'beta (β)',
    flag: 'beta',
    label: 'β (KL strength)',
    default: 0.1,
    min: 0,
    aboveMin: true,
    step: 0.001,
    slider: { min: 0.001, max: 1 },
  },
  normalization: NORMALIZATION,
  granularity: GRANULARITY,
  perplexitySource: PERPLEXITY_SOURCE,
} as const satisfies { [K in keyof AspoSettings]: AspoSettings[K] extends string ? ChoiceSetting<AspoSettings[K]> : NumberSetting };

export const DEFAULT_ASPO_SETTINGS: Readonly<AspoSettings> = Object.freeze({
  objective: ASPO_SETTINGS.objective.default,
  alpha: ASPO_SETTINGS.alpha.default,
  beta: ASPO_SETTINGS.beta.default,
  normalization: ASPO_SETTINGS.normalization.default,
  granularity: ASPO_SETTINGS.granularity.default,
  perplexitySource: ASPO_SETTINGS.perplexitySource.default,
});

/** The paper's variants (its ablation of the two weight sources): DPO, and ASPO weighing by S, by P, or by both. */
export const METHOD_PRESETS: readonly { name: string; settings: Partial<AspoSettings> }[] = [
  { name: 'DPO', settings: { objective: 'dpo' } },
  { name: 'ASPO-S', settings: { objective: 'aspo', alpha: 1 } },
  { name: 'ASPO-P', settings: { objective: 'aspo', alpha: 0 } },
  { name: 'ASPO-S+P', settings: { objective: 'aspo', alpha: 0.5 } },
];

/** The choice of `setting` with this value (its label and TeX); throws on a value the setting does not have. */
export function choiceOf<S extends ChoiceSetting>(setting: S, value: S['choices'][number]['value']): S['choices'][number] {
  const choice = setting.choices.find((c) => c.value === value);
  if (!choice) throw new RangeError(`${setting.name} has no choice ${JSON.stringify(value)}`);
  return choice;
}

/** What a value of the setting must be, as the end of "… must be": "in [0, 1]", "a positive integer". */
export function requirement(setting: Setting): string {
  if (setting.kind === 'choice') return `one of ${setting.choices.map((c) => c.value).join(', ')}`;
  const { min, max, aboveMin, integer, note } = setting;
  let text: string;
  if (integer) {
    const lowest = min !== undefined && aboveMin ? min + 1 : min;
    if (lowest !== undefined && max !== undefined) text = `an integer from ${lowest} to ${max}`;
    else if (lowest === 1) text = 'a positive integer';
    else if (lowest === 0) text = 'a non-negative integer';
    else if (lowest !== undefined) text = `an integer of at least ${lowest}`;
    else text = 'an integer';
  } else if (min !== undefined && max !== undefined) text = `in ${aboveMin ? '(' : '['}${min}, ${max}]`;
  else if (min === 0 && aboveMin) text = 'a positive number';
  else if (min !== undefined) text = `${aboveMin ? '>' : '≥'} ${min}`;
  else text = 'a finite number';
  return note ? `${text} (${note})` : text;
}

/** Whether `value` is allowed for the setting. */
export function allowed(setting: Setting, value: unknown): boolean {
  if (setting.kind === 'choice') return setting.choices.some((c) => c.value === value);
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  const { min, max, aboveMin, integer } = setting;
  if (integer && !Number.isInteger(value)) return false;
  if (min !== undefined && (aboveMin ? value <= min : value < min)) return false;
  return max === undefined || value <= max;
}

/** A sentence naming the setting, what it must be and the value, or null when the value is allowed. */
export function settingProblem(setting: Setting, value: unknown): string | null {
  if (allowed(setting, value)) return null;
  const shown = setting.kind === 'choice' ? JSON.stringify(value) : String(value);
  return `${setting.name} must be ${requirement(setting)}, got ${shown}`;
}
