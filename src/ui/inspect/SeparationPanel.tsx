import type { Separation } from '../../sandbox/evalFigures';
import { HELD_OUT_SET } from '../../sandbox/splits';
import { useInspect } from '../../state/inspectStore';
import { useSeparation } from '../../state/inspect/separation';
import { useModels } from '../../state/modelStore';
import { NumberField } from '../common/NumberField';
import { fmt } from '../common/format';

const SCORES: { key: 'simNorm' | 'pplNorm' | 'weight'; label: string }[] = [
  { key: 'simNorm', label: 'Ŝ_i (CLIP similarity, normalised)' },
  { key: 'pplNorm', label: 'P̂_i (perplexity, normalised)' },
  { key: 'weight', label: 'w_i (ASPO weight)' },
];

const share = (x: number | null) => (x === null ? '—' : fmt(x, 3));

function Figure({ label, value, testId }: { label: string; value: number | null; testId: string }) {
  return (
    <div className="result">
      <dt>{label}</dt>
      <dd data-testid={testId} data-value={value ?? undefined}>
        {share(value)}
      </dd>
    </div>
  );
}

function SeparationTable({ pooled, greedy }: { pooled: Separation; greedy: Separation }) {
  return (
    <div className="table-scroll">
      <table className="sentence-table separation-table" data-testid="separation-table">
        <caption>AUROC, correct against hallucinated sentences (0.5: no better than chance)</caption>
        <thead>
          <tr>
            <th scope="col">Score</th>
            <th scope="col" title="The greedy descriptions and one corrupted correct description per scene">
              Greedy + corrupted ({pooled.correct} correct, {pooled.hallucinated} hallucinated)
            </th>
            <th scope="col" title="The model's own greedy descriptions only">
              Greedy only ({greedy.correct} correct, {greedy.hallucinated} hallucinated)
            </th>
          </tr>
        </thead>
        <tbody>
          {SCORES.map((s) => (
            <tr key={s.key}>
              <th scope="row">{s.label}</th>
              <td className="num" data-testid={`separation-pooled-${s.key}`} data-value={pooled[s.key] ?? undefined}>
                {share(pooled[s.key])}
              </td>
              <td className="num" data-testid={`separation-greedy-${s.key}`} data-value={greedy[s.key] ?? undefined}>
                {share(greedy[s.key])}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** How well ASPO's weights single out hallucinated sentences over the held-out scenes, with the loaded models at the current settings. */
export function SeparationPanel() {
  const mllm = useModels((s) => s.mllm);
  const clip = useModels((s) => s.clip);
  const { alpha, beta, normalization, granularity, perplexitySource } = useInspect();
  const { status, progress, result, error, scenes, setScenes, run, cancel } = useSeparation();
  const running = status === 'running';
  const start = () => {
    if (!mllm.handle || !clip.handle) return;
    void run({
      engine: mllm.handle,
      clip: clip.handle,
      models: `${mllm.label} and ${clip.label}`,
      settings: { alpha, beta, normalization, granularity, perplexitySource },
      scenes,
    });
  };
  const ran = result?.evaluation;
  const otherAlpha = ran && ran.settings.alpha !== alpha;

  return (
    <section className="separation" aria-label="Separation over held-out scenes" aria-busy={running}>
      <h2>Separation over held-out scenes</h2>
      <p className="hint">
        The loaded model describes each held-out scene; its description and a corrupted correct one are scored like a pair here, and the judge marks every sentence.
        An AUROC is the chance that a correct sentence scores above a hallucinated one.
      </p>
      <div className="scene-fields">
        <NumberField label={`Scenes (the first of ${HELD_OUT_SET.length})`} value={scenes} integer min={1} max={HELD_OUT_SET.length} step={1} testId="separation-scenes" onChange={setScenes} />
        <button type="button" data-testid="separation-run" disabled={running || !mllm.handle || !clip.handle} onClick={start}>
          Evaluate at α = {fmt(alpha, 2)}
        </button>
        {running && (
          <button type="button" data-testid="separation-cancel" onClick={cancel}>
            Cancel
          </button>
        )}
      </div>
      {(!mllm.handle || !clip.handle) && <p className="hint">Load a multimodal model and a CLIP model (above) to evaluate.</p>}
      {progress && (
        <p role="status" data-testid="separation-progress">
          <progress aria-label="evaluation progress" max={progress.total} value={progress.done} /> {progress.stage}
        </p>
      )}
      {status === 'cancelled' && (
        <p role="status" className="hint" data-testid="separation-message">
          Evaluation cancelled{ran ? '; the figures below are from the run before' : ''}.
        </p>
      )}
      {error && (
        <p role="alert" className="field-error" data-testid="separation-message">
          Evaluation failed: {error}
        </p>
      )}
      {ran && (
        <div data-testid="separation-result" data-scenes={ran.scenes} data-alpha={ran.settings.alpha}>
          <p className="hint">
            {result.models}, {ran.scenes} scenes, α = {fmt(ran.settings.alpha, 2)}
            {otherAlpha && <strong> — α has changed since: evaluate again for the current α</strong>}.
          </p>
          <SeparationTable pooled={ran.separation.pooled} greedy={ran.separation.greedy} />
          <h3>The judge on the greedy answers</h3>
          <dl className="result-grid">
            <Figure label="chair_s" value={ran.descriptions.chairS} testId="separation-chairS" />
            <Figure label="chair_i" value={ran.descriptions.chairI} testId="separation-chairI" />
            <Figure label="recall" value={ran.descriptions.recall} testId="separation-recall" />
            <Figure label="unparsed" value={ran.descriptions.unparsed} testId="separation-unparsed" />
            <Figure label="yes/no accuracy" value={ran.yesNo.accuracy} testId="separation-yesno-accuracy" />
            <Figure label="yes/no precision" value={ran.yesNo.precision} testId="separation-yesno-precision" />
            <Figure label="yes/no recall" value={ran.yesNo.recall} testId="separation-yesno-recall" />
            <Figure label="yes ratio" value={ran.yesNo.yesRatio} testId="separation-yesno-ratio" />
            <Figure label="how-many accuracy" value={ran.howMany.accuracy} testId="separation-howmany-accuracy" />
          </dl>
          {ran.cutDescriptions > 0 && (
            <p className="hint">
              {ran.cutDescriptions} description{ran.cutDescriptions > 1 ? 's' : ''} stopped at {ran.maxNewTokens} tokens, not at the end of the turn.
            </p>
          )}
        </div>
      )}
    </section>
  );
}
