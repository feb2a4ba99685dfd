/**
 * The main thread's side of the training worker (`worker/index.ts`): a typed message protocol and `TrainClient`,
 * whose methods return promises (one reply per request) and whose `on()` streams the worker's events (load
 * progress, prepare progress, one `step` event per StepReport, checkpoints, status changes).
 *
 * Protocol: the page posts `WorkerRequest`s (`{ id, type, … }`); the worker answers each with one
 * `{ type: 'reply', id, ok, value | error }` and posts `{ type: 'event', event }` at any time.
 * Everything is structured-cloneable: settings and pairs are plain JSON, a picked folder is File[],
 * adapter files are bytes.
 */
import type { BatchMetrics } from '../aspo/objective';
import type { DataSpec, ModelSpec } from './checkpointStore';
import type { TrainSettings } from './settings';
import type { StepReport } from './optimizerStep';

export type { DataSpec, ModelSpec };

export type RunStatus = 'preparing' | 'running' | 'paused' | 'stopped' | 'done' | 'error';

export interface BackendInfo {
  backend: string;
  reason: string;
}

export interface ModelInfo {
  label: string;
  modelType: string;
  /** r / alpha / target modules of the adapters the model is loaded with now */
  lora: { r: number; alpha: number; targetModules: string[] };
}

export interface Generation {
  prompt: string;
  /** sandbox image key of the held-out scene */
  image: string;
  /** the scene's correct description (the chosen answer) */
  reference: string;
  before: string;
  after: string;
  /** the greedy answers' token ids, so another backend can check each choice against its own logits */
  beforeIds: number[];
  afterIds: number[];
}

/** What "Before and after" runs: greedy answers to the first `prompts` held-out sandbox scenes, and metrics over the first `heldOutPairs` held-out pairs. */
export interface CompareOptions {
  prompts: number;
  maxNewTokens: number;
  heldOutPairs: number;
}

/** Three answers of 24 new tokens; metrics over all 8 held-out sandbox pairs. */
export const DEFAULT_COMPARE: Readonly<CompareOptions> = Object.freeze({ prompts: 3, maxNewTokens: 24, heldOutPairs: 8 });

export interface Comparison {
  runId: string | null;
  /** adapters' step when compared (null: imported or no run) */
  step: number | null;
  generations: Generation[];
  /** held-out sandbox metrics with the adapters off (= the reference) and on */
  heldOut: { before: BatchMetrics; after: BatchMetrics; pairs: number };
  notices: string[];
}

export interface AdapterFiles {
  'adapter_model.safetensors': Uint8Array;
  'adapter_config.json': string;
}

export interface StartRequest {
  runId: string;
  settings: TrainSettings;
  data: DataSpec;
  model: ModelSpec;
  /** save a checkpoint every this many steps (and on pause and stop) */
  checkpointEvery: number;
}

export type WorkerRequest =
  | { id: number; type: 'init' }
  | { id: number; type: 'load'; model: ModelSpec; files?: File[] }
  | ({ id: number; type: 'start' } & StartRequest)
  | { id: number; type: 'resume'; runId: string; checkpointEvery: number; files?: File[] }
  | { id: number; type: 'pause' }
  | { id: number; type: 'stop' }
  | ({ id: number; type: 'compare'; runId: string | null } & CompareOptions)
  | { id: number; type: 'exportAdapter' }
  | { id: number; type: 'importAdapter'; files: { 'adapter_model.safetensors': Uint8Array; 'adapter_config.json'?: string } }
  | { id: number; type: 'deleteCheckpoint'; runId: string }
  | { id: number; type: 'checkpoints' }
  /** test hook: the next step's loss or gradient is made NaN (the Trainer must skip and report it) */
  | { id: number; type: 'injectNonFinite'; which: 'loss' | 'gradient' };

/** What each request's reply carries. */
export interface ReplyValues {
  init: BackendInfo;
  load: ModelInfo;
  start: { totalSteps: number; notices: string[] };
  resume: { fromStep: number; totalSteps: number; history: StepReport[]; notices: string[] };
  pause: { step: number } | null;
  stop: { step: number } | null;
  compare: Comparison;
  exportAdapter: AdapterFiles;
  importAdapter: ModelInfo & { tensors: number };
  deleteCheckpoint: null;
  checkpoints: { runId: string; step: number; savedAt: number }[];
  injectNonFinite: null;
}

export type TrainEvent =
  | { kind: 'backend'; backend: string; reason: string }
  | { kind: 'load-progress'; file: string; loaded: number; total: number }
  | { kind: 'model'; info: ModelInfo }
  | { kind: 'prepare'; runId: string; done: number; total: number; message: string }
  | { kind: 'started'; runId: string; totalSteps: number; fromStep: number; notices: string[] }
  | { kind: 'step'; runId: string; report: StepReport; stepsPerSec: number; etaMs: number }
  | { kind: 'checkpoint'; runId: string; step: number }
  | { kind: 'status'; runId: string; status: RunStatus; message?: string };

export type WorkerReply = { type: 'reply'; id: number; ok: true; value: unknown } | { type: 'reply'; id: number; ok: false; error: string };
export type WorkerMessage = WorkerReply | { type: 'event'; event: TrainEvent };

type RequestBody<T extends WorkerRequest['type']> = Omit<Extract<WorkerRequest, { type: T }>, 'id' | 'type'>;

export class TrainClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(e: TrainEvent) => void>();

  constructor(private readonly worker: Worker) {
    worker.addEventListener('message', (e: MessageEvent<WorkerMessage>) => this.receive(e.data));
    worker.addEventListener('error', (e: ErrorEvent) => {
      const error = new Error(`the training worker failed: ${e.message || 'unknown error (see the console)'}`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    });
  }

  private receive(msg: WorkerMessage) {
    if (msg.type === 'event') {
      const hook = (globalThis as { __aspoTrainEvents?: TrainEvent[] }).__aspoTrainEvents;
      if (hook && msg.event.kind === 'step') hook.push(msg.event); // a test's record of the raw StepReports
      for (const l of this.listeners) l(msg.event);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new Error(msg.error));
  }

  private call<T extends WorkerRequest['type']>(type: T, body: RequestBody<T>, transfer: Transferable[] = []): Promise<ReplyValues[T]> {
    const id = this.nextId++;
    return new Promise<ReplyValues[T]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...body, id, type } as WorkerRequest, transfer);
    });
  }

  /** Subscribes to the worker's events; returns the unsubscribe function. */
  on(listener: (e: TrainEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts TF.js in the worker (WebGPU, else WebGL, else CPU) and says which backend runs and why. */
  init() {
    return this.call('init', {});
  }
  /** Loads a model (bundled or hub catalog entry, or a picked folder's files); progress arrives as events. */
  load(model: ModelSpec, files?: File[]) {
    return this.call('load', { model, files });
  }
  /** Prepares and starts a run; resolves once its step loop runs (steps arrive as events). */
  start(request: StartRequest) {
    return this.call('start', request);
  }
  /** Continues a paused run, or (after a reload) rebuilds it from its IndexedDB checkpoint and continues. */
  resume(runId: string, checkpointEvery: number, files?: File[]) {
    return this.call('resume', { runId, checkpointEvery, files });
  }
  /** Stops the loop after the current step and saves a checkpoint; resolves when paused. */
  pause() {
    return this.call('pause', {});
  }
  stop() {
    return this.call('stop', {});
  }
  /** Greedy answers to held-out sandbox prompts with adapters off and on, and held-out metrics. */
  compare(runId: string | null, options: CompareOptions = DEFAULT_COMPARE) {
    return this.call('compare', { runId, ...options });
  }
  exportAdapter() {
    return this.call('exportAdapter', {});
  }
  importAdapter(files: { 'adapter_model.safetensors': Uint8Array; 'adapter_config.json'?: string }) {
    return this.call('importAdapter', { files });
  }
  deleteCheckpoint(runId: string) {
    return this.call('deleteCheckpoint', { runId });
  }
  checkpoints() {
    return this.call('checkpoints', {});
  }
  /** For tests: poisons the next step (it must come back skipped, with nothing applied). */
  injectNonFinite(which: 'loss' | 'gradient' = 'loss') {
    return this.call('injectNonFinite', { which });
  }
  terminate() {
    this.worker.terminate();
  }
}

let shared: TrainClient | null = null;

/** The page's one training worker, started on first use. */
export function trainClient(): TrainClient {
  if (!shared) {
    shared = new TrainClient(new Worker(new URL('./worker/index.ts', import.meta.url), { type: 'module', name: 'aspo-trainer' }));
    // A test that installed the event hook also gets the client (to force a non-finite step).
    const g = globalThis as { __aspoTrainEvents?: unknown; __aspoTrainClient?: TrainClient };
    if (g.__aspoTrainEvents) g.__aspoTrainClient = shared;
  }
  return shared;
}
