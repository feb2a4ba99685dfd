import { useId } from 'react';
import { CATALOG } from '../../models/catalog';
import { settingsSummary, useTrain, type TrainRun } from '../../state/trainStore';
import { deleteRun, loadModel, pauseRun, resumeRun, startRun, stopRun, useWorker } from '../../state/trainWorker';
import { runColour } from './MetricCharts';

const TRAINABLE = CATALOG.filter((e) => e.role === 'mllm' && e.engines.includes('tfjs'));

function fmtTime(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function fmtNum(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? String(v) : v.toFixed(4);
}

/** Which model trains: a bundled or hub catalog entry, or a picked folder; with load progress. */
export function ModelPicker({ disabled }: { disabled: boolean }) {
  const id = useId();
  const choice = useWorker((s) => s.modelChoice);
  const model = useWorker((s) => s.model);
  const files = useWorker((s) => s.files);
  const loading = useWorker((s) => s.loading);
  const folder = useWorker((s) => s.folder);
  const backend = useWorker((s) => s.backend);
  const backendError = useWorker((s) => s.backendError);
  return (
    <fieldset className="train-model" disabled={disabled}>
      <legend>Model (trained in a Web Worker)</legend>
      <p className="train-backend" data-testid="train-backend" data-backend={backend?.backend ?? ''} role="status">
        {backendError ? `Worker TF.js could not start: ${backendError}` : backend ? `Worker backend: ${backend.reason}` : 'Worker backend: starting…'}
      </p>
      <div className="train-field">
        <label htmlFor={id}>Model</label>
        <select id={id} value={choice} data-testid="train-model" onChange={(e) => useWorker.setState({ modelChoice: e.target.value })}>
          {TRAINABLE.map((e) => (
            <option key={e.id} value={e.id}>
              {e.label} — {e.download}
            </option>
          ))}
          <option value="folder">A model folder on this computer…</option>
        </select>
      </div>
      {choice === 'folder' && (
        <div className="train-field">
          <label htmlFor={`${id}-folder`}>Model folder</label>
          <input
            id={`${id}-folder`}
            type="file"
            // @ts-expect-error non-standard but supported by Chromium, Firefox and Safari
            webkitdirectory=""
            multiple
            onChange={(e) => {
              const list = [...(e.target.files ?? [])];
              const name = (list[0] as File & { webkitRelativePath?: string })?.webkitRelativePath?.split('/')[0] || 'picked folder';
              useWorker.setState({ folder: list.length ? { name, files: list } : null });
            }}
          />
          {folder && <span className="train-hint">{folder.files.length} files from {folder.name}</span>}
        </div>
      )}
      <button type="button" onClick={() => void loadModel()} data-testid="train-load" disabled={loading}>
        {loading ? 'Loading…' : 'Load model'}
      </button>
      <span className="train-hint" data-testid="train-model-status">
        {model ? `Loaded: ${model.label} (${model.modelType}, LoRA r ${model.lora.r}, alpha ${model.lora.alpha})` : 'The model loads when a run starts.'}
      </span>
      {Object.keys(files).length > 0 && loading && (
        <ul className="file-progress">
          {Object.entries(files).map(([f, p]) => (
            <li key={f}>
              <span>{f}</span>
              <progress max={p.total || 1} value={p.total ? p.loaded : 0} aria-label={`${f} download`} />
            </li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}

/** Start / pause / resume / stop of the active run. */
export function RunButtons() {
  const busy = useWorker((s) => s.busy);
  const active = useTrain((s) => s.runs.find((r) => r.id === s.activeId) ?? null);
  const status = active?.status;
  const running = status === 'running' || status === 'preparing';
  const resumable = status === 'paused' || status === 'interrupted';
  const anyRunning = useTrain((s) => s.runs.some((r) => r.status === 'running' || r.status === 'preparing'));
  return (
    <div className="train-buttons" role="group" aria-label="Run controls">
      <button type="button" data-testid="train-start" disabled={!!busy || anyRunning} onClick={() => void startRun()}>
        Start new run
      </button>
      <button type="button" data-testid="train-pause" disabled={!!busy || status !== 'running'} onClick={() => void pauseRun()}>
        Pause
      </button>
      <button type="button" data-testid="train-resume" disabled={!!busy || !resumable || anyRunning} onClick={() => active && void resumeRun(active.id)}>
        Resume
      </button>
      <button type="button" data-testid="train-stop" disabled={!!busy || !(running || status === 'paused')} onClick={() => void stopRun()}>
        Stop
      </button>
      {busy && <span className="train-hint">{busy}…</span>}
    </div>
  );
}

/** Backend, step n/N, steps/s, time left, notices and skipped steps of the active run. */
export function StatusLine() {
  const active = useTrain((s) => s.runs.find((r) => r.id === s.activeId) ?? null);
  const error = useWorker((s) => s.error);
  const backend = useWorker((s) => s.backend);
  if (!active) {
    return (
      <div className="train-status" data-testid="train-status" role="status">
        {error && <p className="field-error">{error}</p>}
        No run yet.
      </div>
    );
  }
  const last = active.history[active.history.length - 1];
  const step = last?.step ?? 0;
  return (
    <div className="train-status" data-testid="train-status" data-status={active.status} data-step={step} aria-live="polite">
      {error && <p className="field-error" role="alert">{error}</p>}
      <p>
        <strong>{active.name}</strong> · <span data-testid="run-status">{active.status}</span> · {backend?.backend ?? '…'} ·{' '}
        <span data-testid="run-step">
          step {step}/{active.totalSteps ?? '?'}
        </span>{' '}
        · {active.stepsPerSec ? `${active.stepsPerSec.toFixed(2)} steps/s` : '— steps/s'} · time left {fmtTime(active.etaMs)} · checkpoint at step{' '}
        <span data-testid="run-checkpoint">{active.checkpointStep}</span>
        {active.prepare && (
          <>
            {' '}
            · preparing pairs {active.prepare.done}/{active.prepare.total} (reference log-probs, vision features)
          </>
        )}
      </p>
      {last && (
        <p className="train-last" data-testid="run-last" data-loss={String(last.loss)}>
          loss {fmtNum(last.loss)} · margin {fmtNum(last['rewards/margins'])} · accuracy {fmtNum(last['rewards/accuracies'])} · lr {last.lr.toExponential(2)} · grad norm{' '}
          {fmtNum(last.grad_norm)}
        </p>
      )}
      <p data-testid="run-skipped" data-count={active.skipped.length} className={active.skipped.length ? 'train-skipped' : undefined}>
        Skipped steps: {active.skipped.length === 0 ? 'none' : active.skipped.map((k) => `step ${k.step} (${k.reason})`).join('; ')}
      </p>
      {active.notices.length > 0 && (
        <details className="train-notices">
          <summary>Notices ({active.notices.length})</summary>
          <ul data-testid="run-notices">
            {active.notices.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}

function RunRow({ run, colour, checked }: { run: TrainRun; colour: string; checked: boolean }) {
  const activeId = useTrain((s) => s.activeId);
  const last = run.history[run.history.length - 1];
  return (
    <li className={run.id === activeId ? 'train-run active' : 'train-run'} data-testid="run-row" data-run-id={run.id} data-status={run.status}>
      <label>
        <input type="checkbox" checked={checked} onChange={() => useTrain.getState().toggleOverlay(run.id)} data-testid="run-overlay" />
        <span className="train-swatch" style={{ background: colour }} aria-hidden="true" />
        <span>
          {run.name} <span className="train-hint">({run.status}, {run.history.length}/{run.totalSteps ?? '?'} steps{last ? `, loss ${fmtNum(last.loss)}` : ''})</span>
        </span>
      </label>
      <span className="train-run-settings">{settingsSummary(run.settings)} · data: {run.data} ({run.pairs} pairs)</span>
      <span className="train-run-actions">
        <button type="button" onClick={() => useTrain.getState().setActive(run.id)} disabled={run.id === activeId} aria-label={`Select ${run.name}`}>
          Select
        </button>
        <button
          type="button"
          onClick={() => void deleteRun(run.id)}
          disabled={run.status === 'running' || run.status === 'preparing'}
          aria-label={`Delete ${run.name}`}
        >
          Delete
        </button>
      </span>
    </li>
  );
}

/** Every run with a checkbox to overlay it in the charts, and its settings. */
export function RunList() {
  const runs = useTrain((s) => s.runs);
  const overlay = useTrain((s) => s.overlay);
  if (runs.length === 0) return null;
  return (
    <section className="train-runs" aria-label="Runs">
      <h2>Runs</h2>
      <ul data-testid="run-list">
        {runs.map((r) => (
          <RunRow key={r.id} run={r} colour={runColour(runs, r.id)} checked={overlay.includes(r.id)} />
        ))}
      </ul>
    </section>
  );
}

/** The active run's last steps, as the worker reported them. */
export function StepLog() {
  const history = useTrain((s) => s.runs.find((r) => r.id === s.activeId)?.history);
  if (!history || history.length === 0) return null;
  const rows = history.slice(-8);
  return (
    <div className="table-scroll">
      <table className="sentence-table train-steplog" data-testid="step-log">
        <caption>Last steps of the selected run</caption>
        <thead>
          <tr>
            <th scope="col">step</th>
            <th scope="col">loss</th>
            <th scope="col">rewards/margins</th>
            <th scope="col">rewards/accuracies</th>
            <th scope="col">aspo/weight_mean</th>
            <th scope="col">lr</th>
            <th scope="col">ms</th>
            <th scope="col">applied</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((p) => (
            <tr key={p.step} data-step={p.step} data-loss={String(p.loss)}>
              <td className="num">{p.step}</td>
              <td className="num">{fmtNum(p.loss)}</td>
              <td className="num">{fmtNum(p['rewards/margins'])}</td>
              <td className="num">{fmtNum(p['rewards/accuracies'])}</td>
              <td className="num">{fmtNum(p['aspo/weight_mean'])}</td>
              <td className="num">{p.lr.toExponential(2)}</td>
              <td className="num">{Math.round(p.ms)}</td>
              <td>{p.skipped ? 'skipped' : 'yes'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
