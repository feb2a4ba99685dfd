import { useRef, useState } from 'react';
import { CATALOG, catalogEntry, type EngineKind, type ModelRole } from '../../models/catalog';
import { hubIdProblem } from '../../models/sources';
import { useModels, type ModelSlot } from '../../state/modelStore';

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)} MB`;
}

function Progress({ slot, role }: { slot: ModelSlot<unknown>; role: ModelRole }) {
  const files = Object.entries(slot.files);
  const loaded = files.reduce((s, [, f]) => s + f.loaded, 0);
  const total = files.reduce((s, [, f]) => s + Math.max(f.total, f.loaded), 0);
  return (
    <div className="model-status" data-testid={`${role}-status`} data-status={slot.status} aria-live="polite">
      {slot.status === 'idle' && <span>Not loaded.</span>}
      {slot.status === 'loading' && (
        <>
          <span>
            Loading {slot.target}… {megabytes(loaded)}
            {total > 0 ? ` of ${megabytes(total)}` : ''}
            {slot.handle ? ` (${slot.label} stays in use until it is ready)` : ''}
          </span>
          <progress aria-label={`${role} download, all files`} max={total || 1} value={loaded} data-testid={`${role}-progress`} />
          <ul className="file-progress">
            {files.map(([name, f]) => (
              <li key={name}>
                <span className="file-name">{name}</span>
                <progress aria-label={`${name} download`} max={Math.max(f.total, f.loaded, 1)} value={f.loaded} />
              </li>
            ))}
          </ul>
        </>
      )}
      {slot.status === 'ready' && (
        <span className="ready" data-testid={`${role}-device`} data-device={slot.device ?? ''}>
          Ready: {slot.label}
          {slot.device ? ` — runs on ${slot.device}` : ''}
        </span>
      )}
      {slot.notice && <p className="notice">{slot.notice}</p>}
      {slot.error && (
        <p role="alert" className="field-error" data-testid={`${role}-error`}>
          Could not load {slot.target}: {slot.error}
          {slot.handle ? ` ${slot.label} is still loaded.` : ''}
        </p>
      )}
    </div>
  );
}

function ModelRow({ role }: { role: ModelRole }) {
  const models = useModels();
  const folderInput = useRef<HTMLInputElement>(null);
  const [hubId, setHubId] = useState('');
  const [hubIdError, setHubIdError] = useState<string | null>(null);
  const choice = role === 'mllm' ? models.mllmChoice : models.clipChoice;
  const slot = role === 'mllm' ? models.mllm : models.clip;
  const entry = catalogEntry(choice);
  const busy = slot.status === 'loading';
  const title = role === 'mllm' ? 'Multimodal model (log-probs, PPL_i and rewards)' : 'CLIP (sentence–image similarity S_i)';
  return (
    <fieldset className="model-row">
      <legend>{title}</legend>
      <label>
        <span className="sr-only">{title}</span>
        <select value={choice} data-testid={`${role}-choice`} onChange={(e) => models.setChoice(role, e.target.value)} disabled={busy}>
          {CATALOG.filter((e) => e.role === role).map((e) => (
            <option key={e.id} value={e.id}>
              {e.label}
            </option>
          ))}
        </select>
      </label>
      {role === 'mllm' && (
        <label>
          Engine{' '}
          <select value={models.mllmEngine} data-testid="mllm-engine" disabled={busy} onChange={(e) => models.setEngine(e.target.value as EngineKind)}>
            {entry.engines.map((engine) => (
              <option key={engine} value={engine}>
                {engine === 'onnx' ? 'ONNX (transformers.js, quantized, inference)' : 'TF.js (trainable, LoRA)'}
              </option>
            ))}
          </select>
        </label>
      )}
      <span className="model-facts">
        {entry.download} · {entry.dtypeLabel} ·{' '}
        {role === 'clip' || models.mllmEngine === 'onnx' ? 'WebGPU (WASM if WebGPU is missing or fails)' : 'the TF.js backend shown above'}
      </span>
      <button type="button" data-testid={`${role}-load`} disabled={busy} onClick={() => void models.load(role, { entryId: choice })}>
        Load
      </button>
      <button type="button" disabled={busy} onClick={() => folderInput.current?.click()}>
        Load a folder…
      </button>
      <form
        className="hub-id"
        onSubmit={(e) => {
          e.preventDefault();
          const id = hubId.trim();
          const problem = hubIdProblem(id);
          setHubIdError(problem && `"${id}" is not a Hugging Face model id: ${problem}. Type it as owner/name, e.g. HuggingFaceTB/SmolVLM-256M-Instruct.`);
          if (!problem) void models.load(role, { hubId: id });
        }}
      >
        <label>
          or a hub id{' '}
          <input
            type="text"
            value={hubId}
            placeholder="org/name"
            spellCheck={false}
            data-testid={`${role}-hub-id`}
            aria-invalid={hubIdError !== null}
            aria-describedby={hubIdError ? `${role}-hub-id-error` : undefined}
            onChange={(e) => {
              setHubId(e.target.value);
              setHubIdError(null);
            }}
          />
        </label>
        <button type="submit" disabled={busy || !hubId.trim()} data-testid={`${role}-hub-load`}>
          Load
        </button>
        {hubIdError && (
          <p role="alert" className="field-error" id={`${role}-hub-id-error`} data-testid={`${role}-hub-id-error`}>
            {hubIdError}
          </p>
        )}
      </form>
      <input
        ref={folderInput}
        type="file"
        hidden
        multiple
        data-testid={`${role}-folder`}
        // @ts-expect-error: webkitdirectory is not in React's types, but every current browser supports it
        webkitdirectory=""
        onChange={(e) => {
          const files = [...(e.target.files ?? [])];
          if (files.length) void models.load(role, { files, name: files[0].webkitRelativePath.split('/')[0] || 'local folder' });
          e.target.value = '';
        }}
      />
      <Progress slot={slot} role={role} />
    </fieldset>
  );
}

function HubEndpoint() {
  const { hubEndpoint, setHubEndpoint } = useModels();
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <label className="hub-endpoint">
      Hub{' '}
      <input
        type="url"
        value={draft ?? hubEndpoint}
        data-testid="hub-endpoint"
        title="Where hub ids are downloaded from: the Hugging Face Hub, or a mirror with the same /{id}/resolve/{revision}/{file} layout"
        onChange={(e) => setDraft(e.target.value)}
        onBlur={() => {
          if (draft !== null) setHubEndpoint(draft);
          setDraft(null);
        }}
      />
    </label>
  );
}

export function ModelPanel() {
  return (
    <section className="model-panel" aria-label="Models">
      <h2>Models</h2>
      <HubEndpoint />
      <ModelRow role="mllm" />
      <ModelRow role="clip" />
    </section>
  );
}
