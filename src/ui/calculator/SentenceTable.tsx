import type { SentenceNumbers } from '../../data/examples';
import type { Side } from '../../state/calculatorStore';
import { NumberField } from '../common/NumberField';
import { fmt } from '../common/format';
import type { SentenceRow } from './compute';

interface SentenceTableProps {
  side: Side;
  rows: SentenceRow[];
  focusIndex: number | null;
  onNumber: (index: number, field: keyof SentenceNumbers, value: number) => void;
  onFocusSentence: (index: number) => void;
  /** Sentences CLIP scored only in part. */
  truncated?: boolean[];
}

function Cell({ testId, value }: { testId: string; value: number | undefined }) {
  return (
    <td className="num" data-testid={testId} data-value={value}>
      {fmt(value)}
    </td>
  );
}

/** Inputs per sentence and what the method makes of them; the rejected side has no S_i, Ŝ_i, P̂_i or w_i — only the chosen side is reweighted. */
export function SentenceTable({ side, rows, focusIndex, onNumber, onFocusSentence, truncated }: SentenceTableProps) {
  const chosen = side === 'chosen';
  return (
    <div className="table-scroll">
      <table className="sentence-table" data-testid={`${side}-table`}>
        <caption>{chosen ? 'Chosen sentences' : 'Rejected sentences'}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            {chosen && <th scope="col" title="CLIP image–text similarity (Eq. 6)">S<sub>i</sub></th>}
            <th scope="col" title="Summed policy log-prob of the sentence's tokens">Σℓ<sup>θ</sup></th>
            <th scope="col" title="Summed reference log-prob of the sentence's tokens">Σℓ<sup>ref</sup></th>
            <th scope="col" title="Number of tokens n_i">n<sub>i</sub></th>
            {chosen && <th scope="col">Ŝ<sub>i</sub></th>}
            <th scope="col">PPL<sub>i</sub></th>
            {chosen && <th scope="col">P̂<sub>i</sub></th>}
            {chosen && <th scope="col">w<sub>i</sub></th>}
            <th scope="col">r<sub>i</sub></th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => {
            const id = `${side}-${i}`;
            return (
              <tr
                key={`${row.start}-${i}`}
                className={focusIndex === i ? 'focused' : undefined}
                onFocus={() => onFocusSentence(i)}
              >
                <th scope="row" title={row.text}>
                  {i + 1}
                </th>
                {chosen && (
                  <td>
                    <NumberField
                      label={`S of sentence ${i + 1}`}
                      hideLabel
                      slider
                      min={-1}
                      max={1}
                      step={0.001}
                      value={row.numbers.similarity}
                      testId={`similarity-${id}`}
                      onChange={(v) => onNumber(i, 'similarity', v)}
                    />
                    {truncated?.[i] && (
                      <span className="truncated" title="Longer than CLIP's text window: only its beginning was scored" data-testid={`truncated-${id}`}>
                        ✂ truncated
                      </span>
                    )}
                  </td>
                )}
                <td>
                  <NumberField
                    label={`policy log-prob of ${side} sentence ${i + 1}`}
                    hideLabel
                    max={0}
                    step={0.1}
                    value={row.numbers.policyLogp}
                    testId={`policy-${id}`}
                    onChange={(v) => onNumber(i, 'policyLogp', v)}
                  />
                </td>
                <td>
                  <NumberField
                    label={`reference log-prob of ${side} sentence ${i + 1}`}
                    hideLabel
                    max={0}
                    step={0.1}
                    value={row.numbers.refLogp}
                    testId={`ref-${id}`}
                    onChange={(v) => onNumber(i, 'refLogp', v)}
                  />
                </td>
                <td>
                  <NumberField
                    label={`token count of ${side} sentence ${i + 1}`}
                    hideLabel
                    min={1}
                    step={1}
                    value={row.numbers.tokens}
                    testId={`tokens-${id}`}
                    onChange={(v) => onNumber(i, 'tokens', Math.round(v))}
                  />
                </td>
                {chosen && <Cell testId={`simnorm-${id}`} value={row.simNorm} />}
                <Cell testId={`ppl-${id}`} value={row.perplexity} />
                {chosen && <Cell testId={`pplnorm-${id}`} value={row.pplNorm} />}
                {chosen && <Cell testId={`weight-${id}`} value={row.weight} />}
                <Cell testId={`reward-${id}`} value={row.reward} />
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
