import { describe, expect, it } from 'vitest';
import type { Setting } from '../aspo/settings';
import {
  DEFAULT_TRAIN_SETTINGS,
  resolveSettings,
  settingValue,
  totalSteps,
  TRAIN_SETTING_KEYS,
  TRAIN_SETTINGS,
  validateSettings,
  withSetting,
  type TrainSettingKey,
} from './settings';

describe('training settings', () => {
  it('defaults fit a small model in a browser', () => {
    const s = resolveSettings();
    expect(s.lora.r).toBe(16);
    expect(s.lora.alpha).toBe(32);
    expect(s.lr).toBe(5e-5);
    expect(s.beta).toBe(0.1);
    expect(s.alpha).toBe(0.5);
    expect(s.objective).toBe('aspo');
    expect(s.lora.targetModules).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    expect(validateSettings(s)).toEqual([]);
  });

  it('steps replace the default epochs, epochs replace steps; the count follows', () => {
    const bySteps = resolveSettings({ steps: 30 });
    expect(bySteps.epochs).toBeNull();
    expect(totalSteps(bySteps, 24)).toBe(30);
    const byEpochs = resolveSettings({ epochs: 2, batchSize: 5 });
    expect(byEpochs.steps).toBeNull();
    expect(totalSteps(byEpochs, 24)).toBe(10); // ⌈2·24/5⌉
    expect(resolveSettings({ lora: { r: 4 } }).lora).toMatchObject({ r: 4, alpha: 32 });
    expect(DEFAULT_TRAIN_SETTINGS.lora.r).toBe(16); // not mutated
  });

  it('reports every problem with the field named', () => {
    const bad = () =>
      resolveSettings({ alpha: 1.5, beta: 0, lr: -1, batchSize: 0, lora: { r: 2.5 }, normalization: 'max' as never, maxSeqLen: 2 });
    expect(bad).toThrow(RangeError);
    try {
      bad();
    } catch (err) {
      const msg = (err as Error).message;
      for (const field of ['alpha (α)', 'beta (β)', 'lr', 'batchSize', 'lora.r', 'normalization', 'maxSeqLen']) expect(msg).toContain(field);
    }
    expect(() => resolveSettings({ steps: 3, epochs: 1 })).toThrow(/steps or epochs, not both/);
    expect(() => resolveSettings({ steps: null, epochs: null })).toThrow(/either steps or epochs/);
    expect(() => resolveSettings({ granularity: 'word' as never })).toThrow(/granularity/);
    expect(() => resolveSettings({ gradClipNorm: -1 })).toThrow(/gradClipNorm/);
    // 2^32 would run as seed 0.
    expect(() => resolveSettings({ seed: 2 ** 32 })).toThrow('seed must be an integer from 0 to 4294967295, got 4294967296');
    expect(resolveSettings({ seed: 2 ** 32 - 1 }).seed).toBe(4294967295);
  });

  it('runs start from the vocabulary’s defaults, and each setting is read and set by its key', () => {
    const setting = (key: TrainSettingKey): Setting => TRAIN_SETTINGS[key];
    const withDefault = TRAIN_SETTING_KEYS.filter((key) => setting(key).default !== undefined);
    expect(withDefault).toHaveLength(TRAIN_SETTING_KEYS.length - 2); // steps and epochs decide each other
    for (const key of withDefault) expect(settingValue(DEFAULT_TRAIN_SETTINGS, key), key).toBe(setting(key).default);
    const input = withSetting(withSetting(withSetting({}, 'lora.r', 4), 'lora.alpha', 6), 'granularity', 'token');
    expect(input).toEqual({ lora: { r: 4, alpha: 6 }, granularity: 'token' });
    expect(resolveSettings({ ...input, steps: 1 })).toMatchObject({ lora: { r: 4, alpha: 6 }, granularity: 'token' });
    // Every field the vocabulary holds is checked, with its name in the message.
    for (const key of TRAIN_SETTING_KEYS) {
      const bad = withSetting(DEFAULT_TRAIN_SETTINGS, key, key === 'steps' || key === 'epochs' ? -1 : 'bad') as typeof DEFAULT_TRAIN_SETTINGS;
      expect(validateSettings(bad).join('; '), key).toContain(`${TRAIN_SETTINGS[key].name} must be`);
    }
  });
});
