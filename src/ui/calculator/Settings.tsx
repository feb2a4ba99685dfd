import type { Granularity, Normalization, PerplexitySource } from '../../aspo';
import { EXAMPLE_PAIRS } from '../../data/examples';
import { useCalculator } from '../../state/calculatorStore';
import { NumberField } from '../common/NumberField';
import { SelectField, type Choice } from '../common/SelectField';

const NORMALIZATIONS: Choice<Normalization>[] = [
  { value: 'mean', label: 'mean — λ = K / Σ(1 + w_i)' },
  { value: 'reward-ratio', label: 'reward-ratio — λ = R_c / R*_c (paper, literal)' },
  { value: 'none', label: 'none — λ = 1 (ablation)' },
];

const GRANULARITIES: Choice<Granularity>[] = [
  { value: 'sentence', label: 'sentence (ASPO)' },
  { value: 'token', label: 'token (ablation)' },
  { value: 'response', label: 'response (ablation; one pair → all weights 0)' },
];

const PERPLEXITY_SOURCES: Choice<PerplexitySource>[] = [
  { value: 'policy', label: 'policy (adaptive, detached)' },
  { value: 'reference', label: 'reference (fixed)' },
];

export function Settings() {
  const { alpha, beta, normalization, perplexitySource, granularity, setSetting, loadExample } = useCalculator();
  return (
    <section className="settings" aria-label="Method settings">
      <h2>Settings</h2>
      <div className="setting-row">
        <NumberField label="α (similarity vs perplexity)" slider min={0} max={1} step={0.01} value={alpha} testId="alpha" onChange={(v) => setSetting('alpha', v)} />
      </div>
      <div className="setting-row">
        <NumberField label="β (KL strength)" slider min={0.001} max={1} step={0.001} value={beta} testId="beta" onChange={(v) => setSetting('beta', v)} />
      </div>
      <SelectField label="λ normalisation" value={normalization} choices={NORMALIZATIONS} testId="normalization" onChange={(v) => setSetting('normalization', v)} />
      <SelectField label="Granularity" value={granularity} choices={GRANULARITIES} testId="granularity" onChange={(v) => setSetting('granularity', v)} />
      <SelectField
        label="Perplexity from"
        value={perplexitySource}
        choices={PERPLEXITY_SOURCES}
        testId="perplexity-source"
        onChange={(v) => setSetting('perplexitySource', v)}
      />
      <label className="setting-row">
        <span className="number-field-label">Load an example pair</span>
        <select
          value=""
          data-testid="example"
          onChange={(e) => {
            const example = EXAMPLE_PAIRS.find((p) => p.id === e.target.value);
            if (example) loadExample(example);
          }}
        >
          <option value="" disabled>
            Choose…
          </option>
          {EXAMPLE_PAIRS.map((p) => (
            <option key={p.id} value={p.id}>
              {p.title}
            </option>
          ))}
        </select>
      </label>
    </section>
  );
}
