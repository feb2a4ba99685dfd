import { memo } from 'react';
import { METHOD_PRESETS } from '../../aspo';
import { catalogEntry, SANDBOX_CLIP_ID } from '../../models/catalog';
import { SANDBOX_TRAIN_SIZE } from '../../sandbox/preferences';
import { useTrain, type RunData } from '../../state/trainStore';
import { TRAIN_SETTINGS, validateSettings } from '../../train/settings';
import { NumberField } from '../common/NumberField';
import { SelectField } from '../common/SelectField';
import { ChoiceSettingField, NumberSettingField } from '../common/SettingFields';

const SANDBOX_CLIP_LABEL = catalogEntry(SANDBOX_CLIP_ID).label;

const PRESET_TEST_IDS: Record<string, string> = { DPO: 'preset-dpo', 'ASPO-S': 'preset-aspo-s', 'ASPO-P': 'preset-aspo-p', 'ASPO-S+P': 'preset-aspo-sp' };

const DATA_CHOICES: { value: RunData; label: string }[] = [
  { value: 'sandbox', label: `bundled sandbox (${SANDBOX_TRAIN_SIZE} pairs)` },
  { value: 'inspector', label: 'the Inspector’s pair' },
];

/** The training settings (persisted); defaults from DEFAULT_TRAIN_SETTINGS. */
export const SettingsForm = memo(function SettingsForm({ disabled }: { disabled: boolean }) {
  const form = useTrain((s) => s.form);
  const checkpointEvery = useTrain((s) => s.checkpointEvery);
  const data = useTrain((s) => s.data);
  const sandboxCount = useTrain((s) => s.sandboxCount);
  const { setForm, setLora, resetForm, setCheckpointEvery, setData, setSandboxCount } = useTrain.getState();
  const problems = validateSettings(form);
  const aspo = form.objective === 'aspo';
  return (
    <fieldset className="train-settings" disabled={disabled} data-testid="train-settings">
      <legend>Training settings</legend>
      <div className="train-presets" role="group" aria-label="Presets">
        {METHOD_PRESETS.map(({ name, settings }) => {
          const active = form.objective === settings.objective && (settings.alpha === undefined || form.alpha === settings.alpha);
          return (
            <button key={name} type="button" aria-pressed={active} data-testid={PRESET_TEST_IDS[name]} onClick={() => setForm(settings)}>
              {settings.alpha === undefined ? name : `${name} (α=${settings.alpha})`}
            </button>
          );
        })}
        <button type="button" onClick={resetForm} data-testid="preset-defaults">
          Defaults
        </button>
      </div>
      <div className="train-grid">
        <ChoiceSettingField stacked setting={TRAIN_SETTINGS.objective} value={form.objective} onChange={(v) => setForm({ objective: v })} testId="set-objective" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.alpha} value={form.alpha} onChange={(v) => setForm({ alpha: v })} testId="set-alpha" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.beta} value={form.beta} onChange={(v) => setForm({ beta: v })} testId="set-beta" />
        <ChoiceSettingField stacked setting={TRAIN_SETTINGS.normalization} value={form.normalization} onChange={(v) => setForm({ normalization: v })} testId="set-normalization" />
        <ChoiceSettingField stacked setting={TRAIN_SETTINGS.granularity} value={form.granularity} onChange={(v) => setForm({ granularity: v })} testId="set-granularity" />
        <ChoiceSettingField
          stacked
          setting={TRAIN_SETTINGS.perplexitySource}
          value={form.perplexitySource}
          onChange={(v) => setForm({ perplexitySource: v })}
          testId="set-perplexity"
        />
        <NumberSettingField stacked setting={TRAIN_SETTINGS['lora.r']} value={form.lora.r} onChange={(v) => setLora({ r: v })} testId="set-rank" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS['lora.alpha']} value={form.lora.alpha} onChange={(v) => setLora({ alpha: v })} testId="set-lora-alpha" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.lr} value={form.lr} onChange={(v) => setForm({ lr: v })} testId="set-lr" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.warmupSteps} value={form.warmupSteps} onChange={(v) => setForm({ warmupSteps: v })} testId="set-warmup" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.batchSize} value={form.batchSize} onChange={(v) => setForm({ batchSize: v })} testId="set-batch" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.steps} value={form.steps} onChange={(v) => setForm({ steps: v, epochs: null })} testId="set-steps" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.maxSeqLen} value={form.maxSeqLen} onChange={(v) => setForm({ maxSeqLen: v })} testId="set-maxlen" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.gradClipNorm} value={form.gradClipNorm} onChange={(v) => setForm({ gradClipNorm: v })} testId="set-clip" />
        <NumberSettingField stacked setting={TRAIN_SETTINGS.seed} value={form.seed} onChange={(v) => setForm({ seed: v })} testId="set-seed" />
        <NumberField stacked label="Checkpoint every N steps" value={checkpointEvery} min={1} integer onChange={setCheckpointEvery} testId="set-checkpoint-every" />
        <SelectField stacked label="Training data" value={data} choices={DATA_CHOICES} onChange={setData} testId="set-data" />
        {data === 'sandbox' && (
          <NumberField
            stacked
            label={`Sandbox training pairs (of ${SANDBOX_TRAIN_SIZE})`}
            value={sandboxCount}
            min={1}
            max={SANDBOX_TRAIN_SIZE}
            integer
            onChange={setSandboxCount}
            testId="set-sandbox-count"
          />
        )}
      </div>
      {data === 'sandbox' && aspo && form.alpha > 0 && (
        <p className="train-hint" data-testid="sandbox-similarity">
          S_i of the sandbox pairs: {SANDBOX_CLIP_LABEL}, through the CLIP scorer (Eq. 6), loaded in the worker when the run prepares.
        </p>
      )}
      <p className="train-hint">
        LoRA target modules: {form.lora.targetModules.join(', ')}. {aspo ? '' : 'α, normalization, granularity and perplexity source apply to ASPO only.'}
      </p>
      {problems.length > 0 && (
        <ul className="train-problems" role="alert" data-testid="settings-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </fieldset>
  );
});
