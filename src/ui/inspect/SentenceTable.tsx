import type { SentenceNumbers } from '../../data/examples';
import { LOGP_FIELDS, type Provenance, type SentenceField } from '../../data/sentenceNumbers';
import type { Side } from '../../state/inspectStore';
import { NumberField } from '../common/NumberField';
import { fmt } from '../common/format';
import type { SentenceRow } from '../../state/inspect/compute';
import type { SentenceVerdict } from '../../sandbox/judge';

interface SentenceTableProps {
  side: Side;
  rows: SentenceRow[];
  focusIndex: number | null;
  onNumber: (index: number, field: keyof SentenceNumbers, value: number) => void;
  onFocusSentence: (index: number) => void;
}

/** One word for where a number came from, so a placeholder never passes for a measured value. */
export function sourceWord(p: Provenance): string {
  if (p.source === 'model') return p.stale ? 'stale' : 'scored';
  return { placeholder: 'placeholder', example: 'example', hand: 'set by hand' }[p.source];
}

function sourceHint(p: Provenance): string {
  if (p.source === 'placeholder') return 'a first guess, not measured: set it, or score with models';
  if (p.source === 'example') return "the example's illustrative numbers";
  if (p.source === 'hand') return 'set by hand';
  if (p.stale) return `scored by ${p.model} with another prompt or other earlier text; score again`;
  return `scored by ${p.model}`;
}

const FIELD_NAMES: Record<SentenceField, string> = { similarity: 'S', policyLogp: 'Σℓθ', refLogp: 'Σℓref', tokens: 'n' };

/** The row's sources in words, fields with the same source together ("S: scored; ℓ, n: stale"). */
function SourceCell({ testId, sources, fields }: { testId: string; sources: Record<SentenceField, Provenance>; fields: SentenceField[] }) {
  const groups = new Map<string, SentenceField[]>();
  for (const f of fields) groups.set(sourceWord(sources[f]), [...(groups.get(sourceWord(sources[f])) ?? []), f]);
  const name = (group: SentenceField[]) => (LOGP_FIELDS.every((f) => group.includes(f)) && group.length === 3 ? 'ℓ, n' : group.map((f) => FIELD_NAMES[f]).join(', '));
  const text = groups.size === 1 ? [...groups.keys()][0] : [...groups].map(([word, group]) => `${name(group)}: ${word}`).join('; ');
  const hint = fields.map((f) => `${FIELD_NAMES[f]}: ${sourceHint(sources[f])}`).join('; ');
  return (
    <td
      className={`source ${[...groups.keys()].map((w) => `source-${w.replace(/ /g, '-')}`).join(' ')}`}
      title={hint}
      data-testid={testId}
      {...Object.fromEntries(fields.map((f) => [`data-${f.toLowerCase()}`, sourceWord(sources[f])]))}
    >
      {text}
    </td>
  );
}

/** The input's accessible name says when its value is not measured, not only its colour. */
const marked = (label: string, p: Provenance) =>
  p.source === 'placeholder' || p.stale ? `${label} (${sourceWord(p)})` : label;

function Cell({ testId, value }: { testId: string; value: number | undefined }) {
  return (
    <td className="num" data-testid={testId} data-value={value}>
      {fmt(value)}
    </td>
  );
}

/** The judge's verdict in words and a mark, so that it does not rest on colour alone. */
export function verdictWords(v: SentenceVerdict): string {
  if (v.verdict === 'correct') return '✓ correct';
  if (v.verdict === 'hallucinated') return `✗ hallucinated (${v.kind})`;
  return '? unparsed';
}

function VerdictCell({ testId, verdict }: { testId: string; verdict: SentenceVerdict | undefined }) {
  if (!verdict) return <td data-testid={testId} />;
  return (
    <td className={`verdict verdict-${verdict.verdict}`} data-testid={testId} data-verdict={verdict.verdict} data-kind={verdict.verdict === 'hallucinated' ? verdict.kind : undefined}>
      {verdictWords(verdict)}
    </td>
  );
}

/** Inputs per sentence and what the method makes of them; the rejected side has no S_i, Ŝ_i, P̂_i or w_i — only the chosen side is reweighted. */
export function SentenceTable({ side, rows, focusIndex, onNumber, onFocusSentence }: SentenceTableProps) {
  const chosen = side === 'chosen';
  const judged = rows.some((r) => r.verdict);
  return (
    <div className="table-scroll">
      <table className="sentence-table" data-testid={`${side}-table`}>
        <caption>{chosen ? 'Chosen sentences' : 'Rejected sentences'}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            {judged && (
              <th scope="col" title="The sandbox judge's verdict on the sentence against the scene's ground truth">
                Judge
              </th>
            )}
            <th scope="col" title="Where the row's numbers came from: placeholder, example, set by hand, scored by a model, or stale">
              Numbers
            </th>
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
                {judged && <VerdictCell testId={`verdict-${id}`} verdict={row.verdict} />}
                <SourceCell testId={`source-${id}`} sources={row.sources} fields={chosen ? ['similarity', ...LOGP_FIELDS] : [...LOGP_FIELDS]} />
                {chosen && (
                  <td>
                    <NumberField
                      label={marked(`S of sentence ${i + 1}`, row.sources.similarity)}
                      hideLabel
                      decimals={4}
                      slider
                      min={-1}
                      max={1}
                      step={0.001}
                      value={row.numbers.similarity}
                      testId={`similarity-${id}`}
                      onChange={(v) => onNumber(i, 'similarity', v)}
                    />
                    {row.sources.similarity.truncated && (
                      <span className="truncated" title="Longer than CLIP's text window: only its beginning was scored" data-testid={`truncated-${id}`}>
                        ✂ truncated
                      </span>
                    )}
                  </td>
                )}
                <td>
                  <NumberField
                    label={marked(`policy log-prob of ${side} sentence ${i + 1}`, row.sources.policyLogp)}
                    hideLabel
                    decimals={4}
                    max={0}
                    step={0.1}
                    value={row.numbers.policyLogp}
                    testId={`policy-${id}`}
                    onChange={(v) => onNumber(i, 'policyLogp', v)}
                  />
                </td>
                <td>
                  <NumberField
                    label={marked(`reference log-prob of ${side} sentence ${i + 1}`, row.sources.refLogp)}
                    hideLabel
                    decimals={4}
                    max={0}
                    step={0.1}
                    value={row.numbers.refLogp}
                    testId={`ref-${id}`}
                    onChange={(v) => onNumber(i, 'refLogp', v)}
                  />
                </td>
                <td>
                  <NumberField
                    label={marked(`token count of ${side} sentence ${i + 1}`, row.sources.tokens)}
                    hideLabel
                    decimals={4}
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
