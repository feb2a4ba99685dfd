/**
 * The Train tab's actions: they talk to the training worker (`trainClient()`) and record what it says in the
 * persisted run store (`useTrain`) and in `useWorker` (backend, model, load progress, busy flags; not persisted).
 */
import { create } from 'zustand';
import type { PreferencePair } from '../data/pairs';
import { decodeUtf8 } from '../data/utf8';
import { catalogEntry, DEFAULT_MLLM_ID } from '../models/catalog';
import { SANDBOX_TRAIN_SIZE } from '../sandbox/preferences';
import { chosenSimilarity, useInspect } from './inspectStore';
import { useModels } from './modelStore';
import { methodName, useTrain, type RunData } from './trainStore';
import { trainClient, type AdapterFiles, type BackendInfo, type DataSpec, type ModelInfo, type ModelSpec, type TrainEvent } from '../train/client';
import { resolveSettings } from '../train/settings';

export interface WorkerState {
  backend: BackendInfo | null;
  backendError: string | null;
  model: ModelInfo | null;
  /** catalog id picked, or 'folder' */
  modelChoice: string;
  folder: { name: string; files: File[] } | null;
  files: Record<string, { loaded: number; total: number }>;
  loading: boolean;
  /** an action in flight (start, pause, …), to disable the buttons meanwhile */
  busy: string | null;
  /** the last failed action's message, shown above the run (adapter actions report in `adapter` instead) */
  error: string | null;
  exported: { safetensors: string; config: string; name: string } | null;
  /** the adapter panel's message: the last import's result, or why an adapter action failed */
  adapter: { kind: 'imported' | 'error'; text: string } | null;
}

export const useWorker = create<WorkerState>()(() => ({
  backend: null,
  backendError: null,
  model: null,
  modelChoice: DEFAULT_MLLM_ID,
  folder: null,
  files: {},
  loading: false,
  busy: null,
  error: null,
  exported: null,
  adapter: null,
}));

function onEvent(e: TrainEvent) {
  const train = useTrain.getState();
  switch (e.kind) {
    case 'backend':
      useWorker.setState({ backend: { backend: e.backend, reason: e.reason } });
      break;
    case 'load-progress':
      useWorker.setState((s) => ({ files: { ...s.files, [e.file]: { loaded: e.loaded, total: e.total } } }));
      break;
    case 'model':
      useWorker.setState({ model: e.info });
      break;
    case 'prepare':
      train.patchRun(e.runId, { status: 'preparing', prepare: { done: e.done, total: e.total } });
      break;
    case 'started':
      train.truncateHistory(e.runId, e.fromStep);
      train.patchRun(e.runId, { totalSteps: e.totalSteps, status: 'running', prepare: null });
      train.addNotices(e.runId, e.notices);
      break;
    case 'step':
      train.addStep(e.runId, e.report, e.stepsPerSec, e.etaMs);
      break;
    case 'checkpoint':
      train.patchRun(e.runId, { checkpointStep: e.step });
      break;
    case 'status':
      train.patchRun(e.runId, { status: e.status, ...(e.status !== 'running' ? { stepsPerSec: null, etaMs: null, prepare: null } : {}) });
      if (e.message) train.addNotices(e.runId, [`${e.status}: ${e.message}`]);
      break;
  }
}

let connected = false;

/** Starts the worker once, subscribes the stores to its events and starts its TF.js backend. */
export function connectWorker() {
  if (connected) return;
  connected = true;
  const client = trainClient();
  client.on(onEvent);
  client.init().then(
    (b) => useWorker.setState({ backend: b }),
    (err: Error) => useWorker.setState({ backendError: err.message }),
  );
}

function modelSpec(): { spec: ModelSpec; files?: File[] } {
  const w = useWorker.getState();
  if (w.modelChoice === 'folder') {
    if (!w.folder) throw new Error('pick a model folder first');
    return { spec: { kind: 'folder', name: w.folder.name }, files: w.folder.files };
  }
  // A hub model comes from the endpoint the user chose in the Inspect tab, like the models loaded there.
  const hubEndpoint = catalogEntry(w.modelChoice).origin === 'hub' ? useModels.getState().hubEndpoint : undefined;
  return { spec: { kind: 'catalog', entryId: w.modelChoice, ...(hubEndpoint ? { hubEndpoint } : {}) } };
}

/** Runs an action with the buttons disabled; its failure is shown where the action was (above the run, or in the adapter panel). */
async function busy<T>(what: string, body: () => Promise<T>, place: 'run' | 'adapter' = 'run'): Promise<T | undefined> {
  useWorker.setState(place === 'run' ? { busy: what, error: null } : { busy: what });
  try {
    return await body();
  } catch (err) {
    const text = `${what} failed: ${(err as Error).message}`;
    useWorker.setState(place === 'run' ? { error: text } : { adapter: { kind: 'error', text } });
    return undefined;
  } finally {
    useWorker.setState({ busy: null });
  }
}

export function loadModel() {
  return busy('loading the model', async () => {
    const { spec, files } = modelSpec();
    useWorker.setState({ loading: true, files: {} });
    try {
      const info = await trainClient().load(spec, files);
      useWorker.setState({ model: info });
    } finally {
      useWorker.setState({ loading: false });
    }
  });
}

/** The Inspector's pair as training data (its image travels as a data URL, its S_i from the Inspector's numbers, never placeholders). */
export function inspectorData(): DataSpec {
  const c = useInspect.getState();
  if (!c.chosen.trim() || !c.rejected.trim()) throw new Error('the Inspector pair needs a chosen and a rejected response');
  const pair: PreferencePair = { prompt: c.prompt, chosen: c.chosen, rejected: c.rejected };
  const images: Record<string, string> = {};
  if (c.image) {
    pair.image = 'inspector:0';
    images['inspector:0'] = c.image.dataUrl;
  }
  const similarity = chosenSimilarity(c);
  if (similarity) pair.similarity = { chosen: similarity };
  return { kind: 'pairs', pairs: [pair], images };
}

function dataSpec(data: RunData): DataSpec {
  return data === 'sandbox' ? { kind: 'sandbox', count: useTrain.getState().sandboxCount } : inspectorData();
}

let runCounter = 0;

export function startRun() {
  return busy('starting the run', async () => {
    const t = useTrain.getState();
    const settings = resolveSettings(t.form);
    const data = dataSpec(t.data);
    if (data.kind === 'pairs' && settings.objective === 'aspo' && settings.alpha > 0 && !data.pairs[0].similarity) {
      throw new Error('the Inspector pair has no S_i for each chosen sentence; score it in the Inspector first, or use ASPO-P (α = 0) or DPO');
    }
    const { spec, files } = modelSpec();
    if (files) await trainClient().load(spec, files);
    const id = `run-${Date.now().toString(36)}-${(runCounter++).toString(36)}`;
    const n = t.runs.length + 1;
    t.addRun({ id, name: `#${n} ${methodName(settings)}`, createdAt: Date.now(), settings, data: t.data, pairs: data.kind === 'sandbox' ? (data.count ?? SANDBOX_TRAIN_SIZE) : data.pairs.length, model: spec });
    try {
      const started = await trainClient().start({ runId: id, settings, data, model: spec, checkpointEvery: t.checkpointEvery });
      useTrain.getState().patchRun(id, { totalSteps: started.totalSteps });
    } catch (err) {
      useTrain.getState().patchRun(id, { status: 'error' });
      useTrain.getState().addNotices(id, [(err as Error).message]);
      throw err;
    }
  });
}

export function pauseRun() {
  return busy('pausing', async () => {
    await trainClient().pause();
  });
}

export function stopRun() {
  return busy('stopping', async () => {
    await trainClient().stop();
  });
}

export function resumeRun(runId: string) {
  return busy('resuming', async () => {
    const run = useTrain.getState().runs.find((r) => r.id === runId);
    if (!run) throw new Error('no such run');
    useTrain.getState().setActive(runId);
    const folder = run.model.kind === 'folder' ? useWorker.getState().folder : null;
    const res = await trainClient().resume(runId, useTrain.getState().checkpointEvery, folder?.files);
    // A history lost with the page (or never stored) comes back from the checkpoint.
    const current = useTrain.getState().runs.find((r) => r.id === runId);
    if (current && res.history.length > 0 && current.history.length < res.fromStep) {
      for (const report of res.history) useTrain.getState().addStep(runId, report, 0, 0);
    }
  });
}

export function compareRun() {
  return busy('comparing', async () => {
    const { activeId, compareOptions } = useTrain.getState();
    const c = await trainClient().compare(activeId, compareOptions);
    useTrain.getState().setComparison(c);
  });
}

function blobUrl(data: Uint8Array | string, type: string): string {
  const part = typeof data === 'string' ? data : new Uint8Array(data);
  return URL.createObjectURL(new Blob([part], { type }));
}

export function exportAdapter() {
  return busy('exporting the adapter', async () => {
    const files: AdapterFiles = await trainClient().exportAdapter();
    const old = useWorker.getState().exported;
    if (old) {
      URL.revokeObjectURL(old.safetensors);
      URL.revokeObjectURL(old.config);
    }
    const run = useTrain.getState().runs.find((r) => r.id === useTrain.getState().activeId);
    useWorker.setState({
      exported: {
        safetensors: blobUrl(files['adapter_model.safetensors'], 'application/octet-stream'),
        config: blobUrl(files['adapter_config.json'], 'application/json'),
        name: run?.name ?? 'adapter',
      },
      ...(useWorker.getState().adapter?.kind === 'error' ? { adapter: null } : {}),
    });
  }, 'adapter');
}

export function importAdapter(picked: File[]) {
  return busy('importing the adapter', async () => {
    const weights = picked.find((f) => f.name.endsWith('.safetensors'));
    const config = picked.find((f) => f.name.endsWith('.json'));
    if (!weights) throw new Error('pick adapter_model.safetensors (and adapter_config.json with it)');
    const files = {
      'adapter_model.safetensors': new Uint8Array(await weights.arrayBuffer()),
      ...(config ? { 'adapter_config.json': decodeUtf8(new Uint8Array(await config.arrayBuffer()), config.name) } : {}),
    };
    const res = await trainClient().importAdapter(files);
    useWorker.setState({
      model: { label: res.label, modelType: res.modelType, lora: res.lora },
      adapter: { kind: 'imported', text: `imported ${res.tensors} adapter tensors (r ${res.lora.r}, alpha ${res.lora.alpha}) from ${weights.name}; Compare shows the imported adapter` },
    });
  }, 'adapter');
}

export function deleteRun(runId: string) {
  return busy('deleting the run', async () => {
    await trainClient().deleteCheckpoint(runId);
    useTrain.getState().removeRun(runId);
  });
}
