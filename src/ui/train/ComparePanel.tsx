import { useId } from 'react';
import type { BatchMetrics } from '../../aspo/objective';
import { SANDBOX_HELD_OUT_SIZE } from '../../sandbox/preferences';
import { useTrain } from '../../state/trainStore';
import { compareRun, exportAdapter, importAdapter, useWorker } from '../../state/trainWorker';
import { NumberField } from '../common/NumberField';

const METRICS: (keyof BatchMetrics)[] = ['loss', 'rewards/accuracies', 'rewards/margins', 'rewards/chosen', 'rewards/rejected'];

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(4) : String(v);
}

/** The model's answers to held-out sandbox prompts with adapters off and on, and held-out metrics. */
export function ComparePanel({ disabled }: { disabled: boolean }) {
  const comparison = useTrain((s) => s.comparison);
  const options = useTrain((s) => s.compareOptions);
  const setOptions = useTrain((s) => s.setCompareOptions);
  const busy = useWorker((s) => s.busy);
  return (
    <section className="train-compare" aria-label="Before and after" data-testid="compare">
      <h2>Before and after</h2>
      <div className="train-grid">
        <NumberField stacked label={`Held-out scenes answered (of ${SANDBOX_HELD_OUT_SIZE})`} value={options.prompts} min={1} max={SANDBOX_HELD_OUT_SIZE} integer onChange={(prompts) => setOptions({ prompts })} testId="compare-prompts" />
        <NumberField stacked label="New tokens per answer" value={options.maxNewTokens} min={1} max={256} integer onChange={(maxNewTokens) => setOptions({ maxNewTokens })} testId="compare-tokens" />
        <NumberField stacked label={`Held-out pairs scored (of ${SANDBOX_HELD_OUT_SIZE})`} value={options.heldOutPairs} min={1} max={SANDBOX_HELD_OUT_SIZE} integer onChange={(heldOutPairs) => setOptions({ heldOutPairs })} testId="compare-pairs" />
      </div>
      <button type="button" data-testid="compare-run" disabled={disabled || !!busy} onClick={() => void compareRun()}>
        Compare adapters off / on
      </button>
      <span className="train-hint"> greedy answers with the adapters off and on; held-out rewards with the adapters zeroed and as trained</span>
      {comparison && (
        <>
          <div className="table-scroll">
            <table className="sentence-table" data-testid="compare-metrics">
              <caption>
                Held-out sandbox pairs ({comparison.heldOut.pairs}){comparison.step !== null ? `, adapters after step ${comparison.step}` : ''}
              </caption>
              <thead>
                <tr>
                  <th scope="col">metric</th>
                  <th scope="col">before (adapters off)</th>
                  <th scope="col">after (adapters on)</th>
                </tr>
              </thead>
              <tbody>
                {METRICS.map((m) => (
                  <tr key={m} data-metric={m} data-before={comparison.heldOut.before[m]} data-after={comparison.heldOut.after[m]}>
                    <th scope="row">{m}</th>
                    <td className="num">{fmt(comparison.heldOut.before[m])}</td>
                    <td className="num">{fmt(comparison.heldOut.after[m])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="train-generations" data-testid="compare-generations">
            {comparison.generations.map((g) => (
              <article key={g.image} className="train-generation">
                <h3>
                  {g.prompt} <span className="train-hint">({g.image})</span>
                </h3>
                <p className="train-hint">Truth: {g.reference}</p>
                <dl>
                  <dt>Before</dt>
                  <dd data-testid="gen-before" data-ids={JSON.stringify(g.beforeIds)}>
                    {g.before || '(empty)'}
                  </dd>
                  <dt>After</dt>
                  <dd data-testid="gen-after" data-ids={JSON.stringify(g.afterIds)}>
                    {g.after || '(empty)'}
                  </dd>
                </dl>
              </article>
            ))}
          </div>
          {comparison.notices.length > 0 && <p className="notice">{comparison.notices.join(' ')}</p>}
        </>
      )}
    </section>
  );
}

/** PEFT adapter export (two downloads) and import (file picker). */
export function AdapterPanel({ disabled }: { disabled: boolean }) {
  const id = useId();
  const exported = useWorker((s) => s.exported);
  const message = useWorker((s) => s.adapter);
  const busy = useWorker((s) => s.busy);
  return (
    <section className="train-adapter" aria-label="Adapter">
      <h2>Adapter (PEFT)</h2>
      <button type="button" data-testid="export-adapter" disabled={disabled || !!busy} onClick={() => void exportAdapter()}>
        Export adapter
      </button>
      {exported && (
        <span className="train-downloads">
          <a href={exported.safetensors} download="adapter_model.safetensors" data-testid="download-safetensors">
            adapter_model.safetensors
          </a>
          <a href={exported.config} download="adapter_config.json" data-testid="download-config">
            adapter_config.json
          </a>
        </span>
      )}
      <div className="train-field">
        <label htmlFor={id}>Import a PEFT adapter (pick adapter_model.safetensors and adapter_config.json)</label>
        <input
          id={id}
          type="file"
          multiple
          accept=".safetensors,.json"
          data-testid="import-adapter"
          disabled={disabled || !!busy}
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            if (files.length) void importAdapter(files);
          }}
        />
      </div>
      {message?.kind === 'imported' && (
        <p className="train-hint" data-testid="import-result" role="status">
          {message.text}
        </p>
      )}
      {message?.kind === 'error' && (
        <p className="field-error" data-testid="adapter-error" role="alert">
          {message.text}; the adapter in use is unchanged
        </p>
      )}
    </section>
  );
}
