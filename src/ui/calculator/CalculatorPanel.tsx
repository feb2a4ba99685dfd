import { useMemo } from 'react';
import { useCalculator } from '../../state/calculatorStore';
import type { BackendChoice } from '../../tf/backend';
import { fmt } from '../common/format';
import { computeCalculator, type CalculatorView } from './compute';
import { Equations } from './Equations';
import { ResponseEditor } from './ResponseEditor';
import { Results } from './Results';
import { SentenceTable } from './SentenceTable';
import { Settings } from './Settings';
import { useDeviceObjective } from './useDeviceObjective';

export function CalculatorPanel({ backend }: { backend: BackendChoice | null }) {
  const state = useCalculator();
  const { prompt, chosen, rejected, chosenNumbers, rejectedNumbers, alpha, beta, normalization, perplexitySource, focus } = state;
  const view: CalculatorView = useMemo(
    () => computeCalculator({ chosen, rejected, chosenNumbers, rejectedNumbers, alpha, beta, normalization, perplexitySource }),
    [chosen, rejected, chosenNumbers, rejectedNumbers, alpha, beta, normalization, perplexitySource],
  );
  const device = useDeviceObjective(view, beta, normalization, backend !== null);
  const focusOn = (side: 'chosen' | 'rejected') => (focus.side === side ? focus.index : null);

  return (
    <main className="calculator">
      <div className="column inputs">
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
              onNumber={(i, field, value) =>
                state.setNumber(side, i, field, value, view[side].map((r) => r.numbers))
              }
            />
          </div>
        ))}
      </div>
      <div className="column outputs">
        <Settings />
        <Results result={view.result} />
        <p className="device-check" data-testid="device-check" data-value={device?.loss}>
          {device && view.result
            ? `TF.js on ${backend?.backend}: ASPO loss ${fmt(device.loss, 6)}, margin ${fmt(device.margin, 6)} (float64: ${fmt(view.result.loss, 6)})`
            : 'TF.js objective: waiting for the backend…'}
        </p>
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
