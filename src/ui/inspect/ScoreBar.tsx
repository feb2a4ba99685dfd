import { useRef, useState } from 'react';
import { useInspect } from '../../state/inspectStore';
import { useModels } from '../../state/modelStore';
import { scorePair } from '../../state/inspect/scorePair';

/** Runs CLIP and the MLLM on the current pair, with progress and a cancel button. */
export function ScoreBar() {
  const mllm = useModels((s) => s.mllm);
  const clip = useModels((s) => s.clip);
  const [stage, setStage] = useState<{ label: string; done: number; total: number } | null>(null);
  const [message, setMessage] = useState<{ kind: 'error' | 'info'; text: string } | null>(null);
  const abort = useRef<AbortController | null>(null);

  const run = async () => {
    const state = useInspect.getState();
    if (!mllm.handle) return;
    abort.current = new AbortController();
    setMessage(null);
    try {
      const scores = await scorePair({
        engine: mllm.handle,
        mllmLabel: `${mllm.label} (${mllm.handle.kind === 'onnx' ? 'ONNX' : 'TF.js'})`,
        clip: clip.handle && { scorer: clip.handle, label: clip.label },
        imageUrl: state.image?.dataUrl ?? null,
        prompt: state.prompt,
        chosen: state.chosen,
        rejected: state.rejected,
        signal: abort.current.signal,
        onStage: (label, done, total) => setStage({ label, done, total }),
      });
      const now = useInspect.getState();
      if (now.chosen !== state.chosen || now.rejected !== state.rejected || now.prompt !== state.prompt || now.image !== state.image) {
        setMessage({ kind: 'info', text: 'The pair changed while it was being scored; score it again.' });
      } else {
        now.setScores(scores.record, scores.scored);
        const notes = [
          !state.image ? 'no image, so S_i kept its values' : !clip.handle ? 'no CLIP model loaded, so S_i kept its values' : null,
        ].filter(Boolean);
        setMessage({ kind: 'info', text: [`Scored with ${mllm.label}${notes.length ? ` (${notes.join('; ')})` : ''}.`, ...scores.notices].join(' ') });
      }
    } catch (err) {
      const cancelled = (err as Error).name === 'AbortError';
      setMessage({ kind: cancelled ? 'info' : 'error', text: cancelled ? 'Scoring cancelled; nothing changed.' : `Scoring failed: ${(err as Error).message}` });
    } finally {
      setStage(null);
      abort.current = null;
    }
  };

  return (
    <section className="score-bar" aria-label="Score the pair with the models">
      <button type="button" data-testid="score" disabled={!mllm.handle || stage !== null} onClick={() => void run()}>
        Score with models
      </button>
      {stage && (
        <>
          <span role="status" data-testid="score-stage">
            {stage.label}
          </span>
          <progress aria-label="scoring progress" max={stage.total} value={stage.done} />
          <button type="button" data-testid="score-cancel" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        </>
      )}
      {!mllm.handle && !stage && <span className="hint">Load a multimodal model (above) to fill the numbers from a model.</span>}
      {message && (
        <p role={message.kind === 'error' ? 'alert' : 'status'} className={message.kind === 'error' ? 'field-error' : 'hint'} data-testid="score-message">
          {message.text}
        </p>
      )}
    </section>
  );
}
