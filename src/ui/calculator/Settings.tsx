import type { Granularity, Normalization, PerplexitySource } from '../../aspo';
import { EXAMPLE_PAIRS } from '../../data/examples';
import { useCalculator } from '../../state/calculatorStore';
import { NumberField } from '../common/NumberField';

const NORMALIZATIONS: { value: Normalization; label: string }[] = [
  { value: 'mean', label: 'mean — λ = K / Σ(1 + w_i)' },
  { value: 'reward-ratio', label: 'reward-ratio — λ = R_c / R*_c (paper, literal)' },
  { value: 'none', label: 'none — λ = 1 (ablation)' },
];

const GRANULARITIES: { value: Granularity; label: string }[] = [
  { value: 'sentence', label: 'sentence (ASPO)' },
  { value: 'token', label: 'token (ablation)' },
  { value: 'response', label: 'response (ablation; one pair → all weights 0)' },
];

const PERPLEXITY_SOURCES: { value: PerplexitySource; label: string }[] = [
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
      <label className="setting-row">
        <span className="number-field-label">λ normalisation</span>
        <select value={normalization} data-testid="normalization" onChange={(e) => setSetting('normalization', e.target.value as Normalization)}>
          {NORMALIZATIONS.map((n) => (
            <option key={n.value} value={n.value}>
              {n.label}
            </option>
          ))}
        </select>
      </label>
      <label className="setting-row">
        <span className="number-field-label">Granularity</span>
        <select value={granularity} data-testid="granularity" onChange={(e) => setSetting('granularity', e.target.value as Granularity)}>
          {GRANULARITIES.map((n) => (
            <option key={n.value} value={n.value}>
              {n.label}
            </option>
          ))}
        </select>
      </label>
      <label className="setting-row">
        <span className="number-field-label">Perplexity from</span>
        <select value={perplexitySource} data-testid="perplexity-source" onChange={(e) => setSetting('perplexitySource', e.target.value as PerplexitySource)}>
          {PERPLEXITY_SOURCES.map((n) => (
            <option key={n.value} value={n.value}>
              {n.label}
            </option>
          ))}
        </select>
      </label>
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
