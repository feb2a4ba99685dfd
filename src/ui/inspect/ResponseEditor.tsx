import type { Side } from '../../state/inspectStore';
import type { SentenceRow } from '../../state/inspect/compute';
import { fmt } from '../common/format';
import { verdictWords } from './SentenceTable';

interface ResponseEditorProps {
  side: Side;
  text: string;
  rows: SentenceRow[];
  focusIndex: number | null;
  onText: (text: string) => void;
  onFocusSentence: (index: number) => void;
}

/** Chosen sentences are tinted by w_i; rejected ones alternate, since the ASPO margin leaves them unweighted. */
function sentenceStyle(side: Side, row: SentenceRow, index: number) {
  if (side === 'chosen' && row.weight !== undefined) {
    return { background: `hsl(145 60% ${92 - 40 * row.weight}%)` };
  }
  return { background: index % 2 ? 'hsl(20 70% 92%)' : 'hsl(20 70% 86%)' };
}

export function ResponseEditor({ side, text, rows, focusIndex, onText, onFocusSentence }: ResponseEditorProps) {
  const label = side === 'chosen' ? 'Chosen response (y_c)' : 'Rejected response (y_r)';
  const wordless = text.trim() !== '' && !/[\p{L}\p{N}]/u.test(text);
  return (
    <section className={`response-editor ${side}`} aria-label={label}>
      <label>
        <span className="field-title">{label}</span>
        <textarea
          value={text}
          rows={4}
          spellCheck={false}
          data-testid={`${side}-text`}
          onChange={(e) => onText(e.target.value)}
        />
      </label>
      <p className="sentence-preview" data-testid={`${side}-sentences`} aria-label={`${label}, split into ${rows.length} sentences`}>
        {rows.length === 0 && !wordless && <em>Type a response to see its sentences.</em>}
        {wordless && (
          <em data-testid={`${side}-wordless`}>
            No letter or digit: no sentences to weigh. The whole response is one unit, so ASPO equals DPO for it.
          </em>
        )}
        {rows.map((row, i) => (
          <span
            key={`${row.start}-${i}`}
            className={`sentence${focusIndex === i ? ' focused' : ''}`}
            style={sentenceStyle(side, row, i)}
            tabIndex={0}
            role="button"
            data-testid={`${side}-sentence-${i}`}
            data-start={row.start}
            data-end={row.end}
            title={`${side === 'chosen' ? `sentence ${i + 1}: w = ${fmt(row.weight)}` : `sentence ${i + 1}: r = ${fmt(row.reward)}`}${
              Object.values(row.sources).some((p) => p.source === 'placeholder') ? ' (placeholder numbers)' : ''
            }${row.verdict ? `; judge: ${verdictWords(row.verdict)}` : ''}`}
            onClick={() => onFocusSentence(i)}
            onFocus={() => onFocusSentence(i)}
            onMouseEnter={() => onFocusSentence(i)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' || e.key === ' ') {
                e.preventDefault();
                onFocusSentence(i);
              }
            }}
          >
            <sup className="sentence-index">
              {i + 1}
              {row.verdict && <span aria-hidden="true">{verdictWords(row.verdict)[0]}</span>}
            </sup>
            {row.text}
          </span>
        ))}
      </p>
    </section>
  );
}
