import { describe, expect, it } from 'vitest';
import { aspoBatchMetrics, aspoLambda, type PairScores } from './objective';
import { ASPO_SETTINGS, choiceOf, DEFAULT_ASPO_SETTINGS, METHOD_PRESETS, requirement, settingProblem, type AspoSettings, type NumberSetting } from './settings';

const PAIR: PairScores = {
  chosen: { policyLogps: [-1, -2, -0.5, -3], refLogps: [-1.2, -1.8, -0.7, -2.5], tokenSentence: [0, 0, 1, 1], similarity: [0.3, 0.2] },
  rejected: { policyLogps: [-2, -2.5], refLogps: [-1.9, -2.2] },
};

describe('the settings vocabulary', () => {
  it('defaults are the method-spec’s', () => {
    expect(DEFAULT_ASPO_SETTINGS).toEqual({ objective: 'aspo', alpha: 0.5, beta: 0.1, normalization: 'mean', granularity: 'sentence', perplexitySource: 'policy' });
    for (const setting of Object.values(ASPO_SETTINGS)) expect(settingProblem(setting, setting.default)).toBeNull();
  });

  it('every choice it offers is one the objective computes', () => {
    for (const { value } of ASPO_SETTINGS.normalization.choices) expect(aspoLambda([0.2, -0.1], [0.3, 0.7], value)).toBeGreaterThan(0);
    const choiceKeys = ['objective', 'normalization', 'granularity', 'perplexitySource'] as const;
    for (const key of choiceKeys) {
      for (const { value } of ASPO_SETTINGS[key].choices) {
        const settings = { ...DEFAULT_ASPO_SETTINGS, [key]: value } as AspoSettings;
        expect(Number.isFinite(aspoBatchMetrics([PAIR], settings).loss), `${key} = ${value}`).toBe(true);
      }
    }
  });

  it('gives each λ normalisation and perplexity source its TeX, and refuses a value it does not have', () => {
    expect(ASPO_SETTINGS.normalization.choices.map((c) => c.value)).toEqual(['mean', 'reward-ratio', 'none']);
    expect(choiceOf(ASPO_SETTINGS.normalization, 'mean').tex).toBe('\\frac{K}{\\sum_i (1 + w_i)}');
    expect(choiceOf(ASPO_SETTINGS.normalization, 'none').tex).toBe('1');
    expect(choiceOf(ASPO_SETTINGS.perplexitySource, 'reference').tex).toBe('\\ell^{\\mathrm{ref}}_t');
    expect(() => choiceOf(ASPO_SETTINGS.normalization, 'max' as never)).toThrow('normalization has no choice "max"');
  });

  it('says what a value must be, naming the setting and the value', () => {
    expect(settingProblem(ASPO_SETTINGS.alpha, 1.5)).toBe('alpha (α) must be in [0, 1], got 1.5');
    expect(settingProblem(ASPO_SETTINGS.alpha, 1)).toBeNull();
    expect(settingProblem(ASPO_SETTINGS.beta, 0)).toBe('beta (β) must be a positive number, got 0');
    expect(settingProblem(ASPO_SETTINGS.beta, Number.NaN)).toBe('beta (β) must be a positive number, got NaN');
    expect(settingProblem(ASPO_SETTINGS.beta, '0.1')).toBe('beta (β) must be a positive number, got 0.1');
    expect(settingProblem(ASPO_SETTINGS.beta, 1e-9)).toBeNull();
    expect(settingProblem(ASPO_SETTINGS.granularity, 'word')).toBe('granularity must be one of sentence, response, token, got "word"');
    const integer = (range: Partial<NumberSetting>): NumberSetting => ({ kind: 'number', name: 'n', label: 'n', step: 1, integer: true, ...range });
    expect(requirement(integer({ min: 0, max: 9 }))).toBe('an integer from 0 to 9');
    expect(requirement(integer({ min: 1 }))).toBe('a positive integer');
    expect(requirement(integer({ min: 0, aboveMin: true }))).toBe('a positive integer');
    expect(requirement(integer({ min: 0 }))).toBe('a non-negative integer');
    expect(requirement(integer({ min: 4 }))).toBe('an integer of at least 4');
    expect(settingProblem(integer({ min: 0, max: 9 }), 2.5)).toBe('n must be an integer from 0 to 9, got 2.5');
    expect(settingProblem(integer({ min: 0, max: 9 }), 10)).toBe('n must be an integer from 0 to 9, got 10');
    expect(requirement({ kind: 'number', name: 'c', label: 'c', step: 0.1, min: 0, note: '0 turns it off' })).toBe('≥ 0 (0 turns it off)');
  });

  it('names the paper’s variants by their α', () => {
    expect(METHOD_PRESETS.map((p) => [p.name, p.settings.objective, p.settings.alpha])).toEqual([
      ['DPO', 'dpo', undefined],
      ['ASPO-S', 'aspo', 1],
      ['ASPO-P', 'aspo', 0],
      ['ASPO-S+P', 'aspo', 0.5],
    ]);
  });
});
