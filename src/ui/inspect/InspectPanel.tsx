import { useMemo } from 'react';
import { imageKey } from '../../data/sentenceNumbers';
import { useInspect } from '../../state/inspectStore';
import type { BackendChoice } from '../../tf/backend';
import { fmt } from '../common/format';
import { computeInspect, type InspectView } from '../../state/inspect/compute';
import { Equations } from './Equations';
import { ResponseEditor } from './ResponseEditor';
import { Results } from './Results';
import { SentenceTable } from './SentenceTable';
import { Settings } from './Settings';
import { useDeviceObjective } from './useDeviceObjective';
import { ImageInput } from './ImageInput';
import { ScoreBar } from './ScoreBar';
import { TokenHeatmap } from './TokenHeatmap';
import { ModelPanel } from '../models/ModelPanel';
import { ScenePicker } from './ScenePicker';
import { SeparationPanel } from './SeparationPanel';

export function InspectPanel({ backend }: { backend: BackendChoice | null }) {
  const state = useInspect();
  const { prompt, chosen, rejected, book, alpha, beta, normalization, perplexitySource, granularity, scored, focus, sandbox } = state;
  const image = useMemo(() => imageKey(state.image?.dataUrl), [state.image?.dataUrl]);
  const view: InspectView = useMemo(
    () =>
      computeInspect({ chosen, rejected, book, pair: { prompt, image }, alpha, beta, normalization, perplexitySource, granularity, scored, scene: sandbox?.scene }),
    [chosen, rejected, book, prompt, image, alpha, beta, normalization, perplexitySource, granularity, scored, sandbox],
  );
  const device = useDeviceObjective(view.objectiveInput, backend !== null);
  const focusOn = (side: 'chosen' | 'rejected') => (focus.side === side ? focus.index : null);

  return (
    <main className="inspect">
      <div className="column inputs">
        <ModelPanel />
        {state.notice && (
          <p role="status" className="notice" data-testid="inspect-notice">
            {state.notice}{' '}
            <button type="button" onClick={state.dismissNotice}>
              Dismiss
            </button>
          </p>
        )}
        <ScenePicker />
        <ImageInput />
        <section aria-label="Prompt">
          <label>
            <span className="field-title">Prompt (q)</span>
            <textarea value={prompt} rows={2} data-testid="prompt-text" onChange={(e) => state.setText('prompt', e.target.value)} />
          </label>
        </section>
        {(['chosen', 'rejected'] as const).map((side) => (
          <div key={side} className="response-block">
            <ResponseEditor
              side={side}
              text={side === 'chosen' ? chosen : rejected}
              rows={view[side]}
              focusIndex={focusOn(side)}
              onText={(text) => state.setText(side, text)}
              onFocusSentence={(i) => state.setFocus(side, i)}
            />
            <SentenceTable
              side={side}
              rows={view[side]}
              focusIndex={focusOn(side)}
              onFocusSentence={(i) => state.setFocus(side, i)}
              onNumber={(i, field, value) => state.setNumber(side, view[side][i].text, field, value)}
            />
          </div>
        ))}
      </div>
      <div className="column outputs">
        <ScoreBar />
        <Settings />
        <Results result={view.result} rows={[...view.chosen, ...view.rejected]} />
        <SeparationPanel />
        <p className="device-check" data-testid="device-check" data-value={device?.loss}>
          {device && view.result
            ? `TF.js on ${backend?.backend}: ASPO loss ${fmt(device.loss, 6)}, margin ${fmt(device.margin, 6)} (float64: ${fmt(view.result.loss, 6)})`
            : 'TF.js objective: waiting for the backend…'}
        </p>
        <TokenHeatmap row={view[focus.side][focus.index]} side={focus.side} index={focus.index} />
        <Equations
          chosen={view.chosen}
          rejected={view.rejected}
          result={view.result}
          focus={focus}
          alpha={alpha}
          beta={beta}
          normalization={normalization}
          perplexitySource={perplexitySource}
        />
      </div>
    </main>
  );
}
