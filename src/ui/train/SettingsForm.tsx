import { memo, useId, useState } from 'react';
import { useTrain, type FormSettings } from '../../state/trainStore';
import { SEED_MAX, validateSettings } from '../../train/settings';

interface NumProps {
  label: string;
  value: number;
  onChange: (v: number) => void;
  step?: number;
  min?: number;
  max?: number;
  integer?: boolean;
  testId: string;
  hint?: string;
}

/** A labelled number input that commits only valid values (a half-typed "0." stays a draft). */
export function Num({ label, value, onChange, step = 1, min, max, integer, testId, hint }: NumProps) {
  const id = useId();
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const commit = (text: string) => {
    setDraft(text);
    const v = Number(text);
    let problem: string | null = null;
    if (text.trim() === '' || !Number.isFinite(v)) problem = 'not a number';
    else if (integer && !Number.isInteger(v)) problem = 'must be a whole number';
    else if ((min !== undefined && v < min) || (max !== undefined && v > max)) problem = `must be between ${min ?? '−∞'} and ${max ?? '∞'}`;
    setError(problem);
    if (!problem) onChange(v);
  };
  const shown = draft !== null && (error !== null || Number(draft) === value) ? draft : String(value);
  return (
    <div className="train-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode="decimal"
        step={step}
        min={min}
        max={max}
        value={shown}
        aria-invalid={error ? true : undefined}
        aria-describedby={hint || error ? `${id}-hint` : undefined}
        data-testid={testId}
        onChange={(e) => commit(e.target.value)}
        onBlur={() => {
          setDraft(null);
          setError(null);
        }}
      />
      {(hint || error) && (
        <span id={`${id}-hint`} className={error ? 'field-error' : 'train-hint'} role={error ? 'alert' : undefined}>
          {error ? `${label}: ${error}` : hint}
        </span>
      )}
    </div>
  );
}

function Choice<T extends string>({ label, value, options, onChange, testId }: { label: string; value: T; options: readonly (readonly [T, string])[]; onChange: (v: T) => void; testId: string }) {
  const id = useId();
  return (
    <div className="train-field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} data-testid={testId} onChange={(e) => onChange(e.target.value as T)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

const PRESETS: { label: string; patch: Partial<FormSettings>; testId: string }[] = [
  { label: 'DPO', patch: { objective: 'dpo' }, testId: 'preset-dpo' },
  { label: 'ASPO-S (α=1)', patch: { objective: 'aspo', alpha: 1 }, testId: 'preset-aspo-s' },
  { label: 'ASPO-P (α=0)', patch: { objective: 'aspo', alpha: 0 }, testId: 'preset-aspo-p' },
  { label: 'ASPO-S+P (α=0.5)', patch: { objective: 'aspo', alpha: 0.5 }, testId: 'preset-aspo-sp' },
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
        {PRESETS.map((p) => {
          const active = form.objective === (p.patch.objective ?? form.objective) && (p.patch.alpha === undefined || (aspo && form.alpha === p.patch.alpha));
          return (
            <button key={p.label} type="button" aria-pressed={active} data-testid={p.testId} onClick={() => setForm(p.patch)}>
              {p.label}
            </button>
          );
        })}
        <button type="button" onClick={resetForm} data-testid="preset-defaults">
          Defaults
        </button>
      </div>
      <div className="train-grid">
        <Choice label="Objective" value={form.objective} options={[['aspo', 'ASPO'], ['dpo', 'DPO']] as const} onChange={(v) => setForm({ objective: v })} testId="set-objective" />
        <Num label="α (similarity ↔ perplexity)" value={form.alpha} min={0} max={1} step={0.05} onChange={(v) => setForm({ alpha: v })} testId="set-alpha" />
        <Num label="β" value={form.beta} min={0.0001} step={0.01} onChange={(v) => setForm({ beta: v })} testId="set-beta" />
        <Choice
          label="Normalization (λ)"
          value={form.normalization}
          options={[['mean', 'mean'], ['reward-ratio', 'reward ratio'], ['none', 'none']] as const}
          onChange={(v) => setForm({ normalization: v })}
          testId="set-normalization"
        />
        <Choice
          label="Granularity"
          value={form.granularity}
          options={[['sentence', 'sentence'], ['response', 'response'], ['token', 'token']] as const}
          onChange={(v) => setForm({ granularity: v })}
          testId="set-granularity"
        />
        <Choice
          label="Perplexity source"
          value={form.perplexitySource}
          options={[['policy', 'policy (detached)'], ['reference', 'reference']] as const}
          onChange={(v) => setForm({ perplexitySource: v })}
          testId="set-perplexity"
        />
        <Num label="LoRA rank r" value={form.lora.r} min={1} integer onChange={(v) => setLora({ r: v })} testId="set-rank" />
        <Num label="LoRA alpha" value={form.lora.alpha} min={0.0001} onChange={(v) => setLora({ alpha: v })} testId="set-lora-alpha" />
        <Num label="Learning rate" value={form.lr} min={1e-9} step={1e-5} onChange={(v) => setForm({ lr: v })} testId="set-lr" />
        <Num label="Warm-up steps" value={form.warmupSteps} min={0} integer onChange={(v) => setForm({ warmupSteps: v })} testId="set-warmup" />
        <Num label="Batch size (accumulation)" value={form.batchSize} min={1} integer onChange={(v) => setForm({ batchSize: v })} testId="set-batch" />
        <Num label="Steps" value={form.steps} min={1} integer onChange={(v) => setForm({ steps: v, epochs: null })} testId="set-steps" />
        <Num label="Max sequence length" value={form.maxSeqLen} min={4} integer onChange={(v) => setForm({ maxSeqLen: v })} testId="set-maxlen" />
        <Num label="Grad clip (global norm, 0 = off)" value={form.gradClipNorm} min={0} step={0.1} onChange={(v) => setForm({ gradClipNorm: v })} testId="set-clip" />
        <Num label="Seed" value={form.seed} min={0} max={SEED_MAX} integer onChange={(v) => setForm({ seed: v })} testId="set-seed" />
        <Num label="Checkpoint every N steps" value={checkpointEvery} min={1} integer onChange={setCheckpointEvery} testId="set-checkpoint-every" />
        <Choice
          label="Training data"
          value={data}
          options={[['sandbox', 'bundled sandbox (24 pairs)'], ['inspector', 'the Inspector’s pair']] as const}
          onChange={setData}
          testId="set-data"
        />
        {data === 'sandbox' && (
          <Num label="Sandbox training pairs (of 24)" value={sandboxCount} min={1} max={24} integer onChange={setSandboxCount} testId="set-sandbox-count" />
        )}
      </div>
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
