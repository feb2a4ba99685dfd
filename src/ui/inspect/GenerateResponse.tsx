import { useRef, useState } from 'react';
import { useInspect, type Side } from '../../state/inspectStore';
import { generateResponse } from '../../state/inspect/generate';
import { useModels } from '../../state/modelStore';

/** Fills a response with the loaded model's greedy answer to the prompt about the image. */
export function GenerateResponse() {
  const mllm = useModels((s) => s.mllm);
  const [running, setRunning] = useState<Side | null>(null);
  const [message, setMessage] = useState<{ kind: 'error' | 'info'; text: string } | null>(null);
  const abort = useRef<AbortController | null>(null);
  if (!mllm.handle) return <p className="hint">Load a multimodal model (above) to fill a response with its description.</p>;
  const engine = mllm.handle;

  const run = async (side: Side) => {
    const { image, prompt, setText } = useInspect.getState();
    abort.current = new AbortController();
    setRunning(side);
    setMessage(null);
    try {
      const text = await generateResponse(engine, image?.dataUrl ?? null, prompt, abort.current.signal);
      setText(side, text);
      setMessage({ kind: 'info', text: `The ${side} response is ${mllm.label}'s greedy answer${text ? '' : ' (it said nothing)'}.` });
    } catch (err) {
      const cancelled = (err as Error).name === 'AbortError';
      setMessage({ kind: cancelled ? 'info' : 'error', text: cancelled ? 'Generation cancelled; nothing changed.' : `Generation failed: ${(err as Error).message}` });
    } finally {
      setRunning(null);
      abort.current = null;
    }
  };

  return (
    <div className="generate-response">
      {(['chosen', 'rejected'] as const).map((side) => (
        <button key={side} type="button" data-testid={`generate-${side}`} disabled={running !== null} onClick={() => void run(side)}>
          Generate the {side} response
        </button>
      ))}
      {running && (
        <>
          <span role="status" data-testid="generate-status">
            Generating the {running} response…
          </span>
          <button type="button" data-testid="generate-cancel" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        </>
      )}
      {message && (
        <p role={message.kind === 'error' ? 'alert' : 'status'} className={message.kind === 'error' ? 'field-error' : 'hint'} data-testid="generate-message">
          {message.text}
        </p>
      )}
    </div>
  );
}
