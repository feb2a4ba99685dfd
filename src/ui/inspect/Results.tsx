import type { AspoResult } from '../../aspo';
import { fmt } from '../common/format';
import { LOGP_FIELDS } from '../../data/sentenceNumbers';
import type { SentenceRow } from '../../state/inspect/compute';

const ROWS: { key: keyof AspoResult; label: string; hint: string }[] = [
  { key: 'rewardChosen', label: 'R_c', hint: 'Σ_i r_i of the chosen response' },
  { key: 'rewardRejected', label: 'R_r', hint: 'Σ_i r_i of the rejected response' },
  { key: 'rewardChosenWeighted', label: 'R*_c', hint: 'Σ_i (1 + w_i) r_i of the chosen response' },
  { key: 'lambda', label: 'λ', hint: 'length normalisation of Eq. 12' },
  { key: 'dpoMargin', label: 'DPO margin M', hint: 'R_c − R_r' },
  { key: 'margin', label: 'ASPO margin M*', hint: 'λ R*_c − R_r' },
  { key: 'dpoLoss', label: 'DPO loss', hint: '−log σ(M)' },
  { key: 'loss', label: 'ASPO loss', hint: '−log σ(M*)' },
];

/** How many sentences feed the results numbers no one measured; the rejected side's S_i is never used. */
function unmeasured(rows: SentenceRow[]) {
  const used = (r: SentenceRow) => LOGP_FIELDS.map((f) => r.sources[f]).concat(r.weight !== undefined ? [r.sources.similarity] : []);
  const placeholders = rows.filter((r) => used(r).some((p) => p.source === 'placeholder')).length;
  const stale = rows.filter((r) => used(r).some((p) => p.stale)).length;
  return { placeholders, stale };
}

export function Results({ result, rows }: { result: AspoResult | null; rows: SentenceRow[] }) {
  const { placeholders, stale } = unmeasured(rows);
  const notes = [
    placeholders && `${placeholders} sentence${placeholders > 1 ? 's use' : ' uses'} placeholder numbers`,
    stale && `${stale} sentence${stale > 1 ? 's have' : ' has'} stale log-probs (the prompt or earlier text changed since scoring)`,
  ].filter(Boolean);
  return (
    <section className="results" aria-label="Margins and losses" aria-live="polite">
      <h2>Margins and losses</h2>
      {result !== null && notes.length > 0 && (
        <p className="hint unmeasured" data-testid="results-unmeasured">
          {notes.join('; ')}: set them in the tables, or score with models.
        </p>
      )}
      {result === null ? (
        <p role="status">Both responses need at least one sentence.</p>
      ) : (
        <dl className="result-grid">
          {ROWS.map((row) => {
            const value = result[row.key] as number;
            return (
              <div key={row.key} className="result" title={row.hint}>
                <dt>{row.label}</dt>
                <dd data-testid={`result-${row.key}`} data-value={value}>
                  {fmt(value)}
                </dd>
              </div>
            );
          })}
        </dl>
      )}
    </section>
  );
}
