import type { SentenceRow } from '../../state/inspect/compute';
import { fmt } from '../common/format';

/** Green for likely tokens, red for unlikely ones: the per-token story behind PPL_i. */
function tokenColour(logp: number): string {
  const p = Math.exp(logp);
  return `hsl(${Math.round(120 * p)} 70% 85%)`;
}

export function TokenHeatmap({ row, side, index }: { row: SentenceRow | undefined; side: string; index: number }) {
  if (!row?.tokens?.length) return null;
  return (
    <section className="token-heatmap" aria-label={`Tokens of ${side} sentence ${index + 1}`} data-testid="token-heatmap">
      <h2>
        Tokens of {side} sentence {index + 1}
      </h2>
      <p className="tokens">
        {row.tokens.map((t, k) => (
          <span
            key={k}
            className="token"
            style={{ background: tokenColour(t.policy) }}
            title={`“${t.text}”: log p = ${fmt(t.policy)} (policy), ${fmt(t.ref)} (reference)`}
            data-logp={t.policy}
          >
            {t.text.replace(/ /g, '·') || '∅'}
          </span>
        ))}
      </p>
      <p className="hint">Colour: token probability under the policy, red (low) to green (high). Hover a token for its log-probs.</p>
    </section>
  );
}
