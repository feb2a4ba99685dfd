/// <reference lib="webworker" />
/**
 * The training Web Worker: TF.js (WebGPU, else WebGL, else CPU) and the Trainer run here, so the page never
 * freezes. The page talks to it through `client.ts` (protocol described there). One model and at most one
 * active run at a time; the step loop yields to the event loop between steps, so a pause or stop request is
 * honoured after the step in flight. Checkpoints go to IndexedDB every N steps and on pause and stop.
 */
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import type { PreferencePair } from '../data/pairs';
import { sandboxPairs } from '../data/sandbox';
import { catalogEntry, sourceFor } from '../models/catalog';
import { folderSource, type ModelSource, type ProgressCallback } from '../models/sources';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import { DEFAULT_LORA_TARGETS, type LoraOptions } from '../models/tfjs/lora';
import { initBackend } from '../tf/backend';
import { deleteCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint, type DataSpec, type ModelSpec } from './checkpointStore';
import type { CompareOptions, Comparison, ModelInfo, ReplyValues, RunStatus, StartRequest, TrainEvent, WorkerMessage, WorkerRequest } from './client';
import { adapterLayout, checkPeftAdapter, exportPeftAdapter, importPeftAdapter, readPeftConfig } from './peft';
import { resolveSettings, type TrainSettings } from './settings';
import { sandboxImageLoader, type ImageLoader } from './pairPreparation';
import { loraOptions, Trainer } from './trainer';

declare const self: DedicatedWorkerGlobalScope;

function post(msg: WorkerMessage) {
  self.postMessage(msg);
}
function emit(event: TrainEvent) {
  post({ type: 'event', event });
}

/** A source that keeps every file it read, so reloading the model with other LoRA settings reads nothing twice. */
class MemoSource implements ModelSource {
  private readonly files = new Map<string, Promise<Uint8Array | null>>();
  constructor(private readonly inner: ModelSource) {}
  get kind() {
    return this.inner.kind;
  }
  get label() {
    return this.inner.label;
  }
  async tryGetFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    let p = this.files.get(name);
    if (!p) {
      p = this.inner.tryGetFile(name, onProgress);
      this.files.set(name, p);
      p.catch(() => this.files.delete(name));
    }
    return p;
  }
  async getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const bytes = await this.tryGetFile(name, onProgress);
    if (bytes === null) return this.inner.getFile(name, onProgress); // throws the source's own "missing" error
    return bytes;
  }
  async getText(name: string, onProgress?: ProgressCallback): Promise<string> {
    return new TextDecoder().decode(await this.getFile(name, onProgress));
  }
  async getJson<T = unknown>(name: string, onProgress?: ProgressCallback): Promise<T> {
    return JSON.parse(await this.getText(name, onProgress)) as T;
  }
}

interface LoadedModel {
  spec: ModelSpec;
  label: string;
  source: MemoSource;
  engine: TfjsEngine | null;
  loraKey: string;
}

interface ActiveRun {
  runId: string;
  trainer: Trainer;
  model: ModelSpec;
  data: DataSpec;
  checkpointEvery: number;
  status: RunStatus;
  /** set by pause/stop; the loop ends after the step in flight */
  request: 'pause' | 'stop' | null;
  loop: Promise<void> | null;
  lastSaved: number;
}

let model: LoadedModel | null = null;
let run: ActiveRun | null = null;
let inject: 'loss' | 'gradient' | null = null;
const HELD_OUT = sandboxPairs().heldOut;
const SANDBOX_TRAIN = sandboxPairs().train;

function progress(): ProgressCallback {
  return (p) => emit({ kind: 'load-progress', file: p.file, loaded: p.loaded, total: p.total });
}

function loraKey(l: LoraOptions) {
  return JSON.stringify([l.r, l.alpha, [...(l.targetModules ?? DEFAULT_LORA_TARGETS)].sort()]);
}

function modelInfo(m: LoadedModel): ModelInfo {
  const lora = m.engine!.model.lora;
  return { label: m.label, modelType: m.engine!.config.modelType, lora: { r: lora.r, alpha: lora.alpha, targetModules: [...lora.targetModules] } };
}

function sourceOf(spec: ModelSpec, files?: File[]): { source: ModelSource; label: string } {
  if (spec.kind === 'folder') {
    if (!files || files.length === 0) throw new Error(`the model folder "${spec.name}" must be picked again (its files are not kept across reloads)`);
    return { source: folderSource(files, { label: spec.name }), label: spec.name };
  }
  const entry = catalogEntry(spec.entryId);
  if (entry.role !== 'mllm' || !entry.engines.includes('tfjs')) throw new Error(`${entry.label} cannot be trained (it is not an MLLM with TF.js weights)`);
  if (entry.origin === 'hub' && !spec.hubEndpoint) throw new Error(`${entry.label}: no hub endpoint was recorded for it; load the model again`);
  return { source: sourceFor(entry, new URL(import.meta.env.BASE_URL, self.location.origin).href, spec.hubEndpoint ?? ''), label: entry.label };
}

function sameSpec(a: ModelSpec, b: ModelSpec) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The model with adapters of these LoRA settings (reloaded from the kept files when they differ). */
async function ensureEngine(spec: ModelSpec, lora: LoraOptions, files?: File[]): Promise<TfjsEngine> {
  await initBackend();
  const key = loraKey(lora);
  const load = (source: MemoSource) => loadTfjsEngine(source, { lora: { ...lora, seed: lora.seed ?? 0 }, onProgress: progress() });
  if (!model || !sameSpec(model.spec, spec) || (spec.kind === 'folder' && files)) {
    if (run) throw new Error('a run is active; stop it before loading another model');
    const { source, label } = sourceOf(spec, files);
    const next: LoadedModel = { spec, label, source: new MemoSource(source), engine: null, loraKey: key };
    // The model in use stays until the new one has loaded: a missing file or a wrong id leaves it working.
    const engine = await load(next.source);
    model?.engine?.dispose();
    model = { ...next, engine };
    emit({ kind: 'model', info: modelInfo(model) });
    return engine;
  }
  if (!model.engine || model.loraKey !== key) {
    model.engine?.dispose();
    model.engine = null;
    model.engine = await load(model.source);
    model.loraKey = key;
    emit({ kind: 'model', info: modelInfo(model) });
  }
  return model.engine;
}

function dataPairs(data: DataSpec): { pairs: PreferencePair[]; loadImage: ImageLoader } {
  if (data.kind === 'sandbox') return { pairs: SANDBOX_TRAIN.slice(0, Math.max(1, Math.min(SANDBOX_TRAIN.length, data.count ?? SANDBOX_TRAIN.length))), loadImage: sandboxImageLoader };
  const cache = new Map<string, Promise<RawImage>>();
  const loadImage: ImageLoader = (key) => {
    let p = cache.get(key);
    if (!p) {
      const url = data.images[key];
      if (!url) return Promise.reject(new Error(`the pair's image "${key}" was not sent with the data`));
      p = fetch(url).then((r) => r.blob()).then((b) => RawImage.fromBlob(b)).then((img) => img.rgb());
      cache.set(key, p);
    }
    return p;
  };
  return { pairs: data.pairs, loadImage };
}

async function makeTrainer(runId: string, settings: TrainSettings, data: DataSpec, spec: ModelSpec, files?: File[]): Promise<Trainer> {
  const engine = await ensureEngine(spec, loraOptions(settings), files);
  const { pairs, loadImage } = dataPairs(data);
  const trainer = new Trainer({ engine, pairs, settings, loadImage });
  emit({ kind: 'status', runId, status: 'preparing' });
  await trainer.prepare((p) => emit({ kind: 'prepare', runId, ...p }));
  return trainer;
}

async function checkpoint(r: ActiveRun): Promise<void> {
  const ckpt = await r.trainer.exportState();
  await saveCheckpoint({ runId: r.runId, savedAt: Date.now(), step: ckpt.step, model: r.model, data: r.data, checkpoint: ckpt });
  r.lastSaved = ckpt.step;
  emit({ kind: 'checkpoint', runId: r.runId, step: ckpt.step });
}

const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function setStatus(r: ActiveRun, status: RunStatus, message?: string) {
  r.status = status;
  emit({ kind: 'status', runId: r.runId, status, ...(message ? { message } : {}) });
}

/** The step loop: one StepReport event per step; yields between steps so pause/stop arrive in time. */
function startLoop(r: ActiveRun) {
  r.request = null;
  setStatus(r, 'running');
  const sessionStart = performance.now();
  const startStep = r.trainer.stepsDone;
  r.loop = (async () => {
    try {
      while (!r.trainer.done && r.request === null) {
        const poison = inject;
        inject = null;
        const report = await r.trainer.step(poison ? { injectNonFinite: poison } : {});
        const done = r.trainer.stepsDone - startStep;
        const stepsPerSec = done / ((performance.now() - sessionStart) / 1000);
        const etaMs = ((r.trainer.totalSteps - r.trainer.stepsDone) / stepsPerSec) * 1000;
        emit({ kind: 'step', runId: r.runId, report, stepsPerSec, etaMs });
        if (r.trainer.stepsDone % r.checkpointEvery === 0) await checkpoint(r);
        await yieldToEvents();
      }
      if (r.lastSaved !== r.trainer.stepsDone) await checkpoint(r);
      if (r.trainer.done) setStatus(r, 'done');
      else setStatus(r, r.request === 'stop' ? 'stopped' : 'paused');
    } catch (err) {
      setStatus(r, 'error', (err as Error).message);
    } finally {
      r.loop = null;
    }
  })();
}

function releaseRun() {
  if (run && !run.loop && run.status !== 'paused') {
    run.trainer.dispose();
    run = null;
  }
}

async function start(req: StartRequest): Promise<ReplyValues['start']> {
  if (run?.loop) throw new Error('a run is in progress; pause or stop it first');
  if (run) {
    run.trainer.dispose();
    run = null;
  }
  const settings = resolveSettings(req.settings);
  const trainer = await makeTrainer(req.runId, settings, req.data, req.model);
  run = { runId: req.runId, trainer, model: req.model, data: req.data, checkpointEvery: Math.max(1, req.checkpointEvery), status: 'running', request: null, loop: null, lastSaved: 0 };
  emit({ kind: 'started', runId: req.runId, totalSteps: trainer.totalSteps, fromStep: 0, notices: trainer.notices.slice() });
  startLoop(run);
  return { totalSteps: trainer.totalSteps, notices: trainer.notices.slice() };
}

async function resume(runId: string, checkpointEvery: number, files?: File[]): Promise<ReplyValues['resume']> {
  if (run?.loop) throw new Error(run.runId === runId ? 'the run is already running' : 'another run is in progress; pause or stop it first');
  if (run && run.runId === runId && run.status === 'paused') {
    run.checkpointEvery = Math.max(1, checkpointEvery);
    const fromStep = run.trainer.stepsDone;
    emit({ kind: 'started', runId, totalSteps: run.trainer.totalSteps, fromStep, notices: [] });
    startLoop(run);
    return { fromStep, totalSteps: run.trainer.totalSteps, history: [], notices: [] };
  }
  if (run) {
    run.trainer.dispose();
    run = null;
  }
  const record = await loadCheckpoint(runId);
  if (!record) throw new Error('this run has no checkpoint to resume from');
  const trainer = await makeTrainer(runId, record.checkpoint.settings, record.data, record.model, files);
  await trainer.importState(record.checkpoint);
  run = { runId, trainer, model: record.model, data: record.data, checkpointEvery: Math.max(1, checkpointEvery), status: 'paused', request: null, loop: null, lastSaved: record.step };
  const notices = [`resumed from the checkpoint at step ${record.step} (saved ${new Date(record.savedAt).toISOString()})`, ...trainer.notices];
  emit({ kind: 'started', runId, totalSteps: trainer.totalSteps, fromStep: record.step, notices });
  startLoop(run);
  return { fromStep: record.step, totalSteps: trainer.totalSteps, history: record.checkpoint.history, notices };
}

async function halt(kind: 'pause' | 'stop'): Promise<{ step: number } | null> {
  if (!run) return null;
  const r = run;
  if (r.loop) {
    r.request = kind;
    await r.loop;
  } else if (kind === 'stop' && r.status === 'paused') {
    if (r.lastSaved !== r.trainer.stepsDone) await checkpoint(r);
    setStatus(r, 'stopped');
  }
  const step = r.trainer.stepsDone;
  releaseRun();
  return { step };
}

/** Current adapter values, to restore after something that resets or zeroes them. */
function snapshotAdapters(engine: TfjsEngine): tf.Tensor[] {
  return engine.model.lora.variables().map((v) => tf.clone(v));
}
function restoreAdapters(engine: TfjsEngine, saved: tf.Tensor[]) {
  engine.model.lora.variables().forEach((v, i) => v.assign(saved[i]));
  tf.dispose(saved);
}

async function compare(runId: string | null, { prompts, maxNewTokens, heldOutPairs }: CompareOptions): Promise<Comparison> {
  if (run?.loop) throw new Error('pause the run before comparing (the comparison uses the model the run trains)');
  if (!model?.engine) throw new Error('load a model first');
  const engine = model.engine;
  const notices: string[] = [];
  if (runId && run?.runId !== runId) notices.push('the adapters shown are the ones in the model now, not those of the selected run');
  const generations: Comparison['generations'] = [];
  for (const pair of HELD_OUT.slice(0, Math.max(1, prompts))) {
    const image = engine.config.modelType === 'idefics3' && pair.image ? await sandboxImageLoader(pair.image, pair) : undefined;
    const prompt = image ? pair.prompt : `${pair.prompt} (${pair.chosen.split('.')[0].toLowerCase()})`;
    const before = await engine.generate({ prompt, image, maxNewTokens, greedy: true, adapters: false });
    const after = await engine.generate({ prompt, image, maxNewTokens, greedy: true, adapters: true });
    generations.push({ prompt: pair.prompt, image: pair.image ?? '', reference: pair.chosen, before: before.text, after: after.text });
  }
  // Held-out metrics: a Trainer with the run's settings (or the model's adapters' shape), which resets the
  // adapters on construction, so they are kept aside and put back; "before" is the adapters zeroed (B = 0).
  const saved = snapshotAdapters(engine);
  const lora = engine.model.lora;
  const settings = run?.trainer.settings ?? resolveSettings({ steps: 1, lora: { r: lora.r, alpha: lora.alpha, targetModules: [...lora.targetModules] } });
  const own = engine.config.modelType === 'idefics3' && !run ? new Trainer({ engine, pairs: SANDBOX_TRAIN, settings }) : null;
  const evaluator = engine.config.modelType === 'idefics3' ? (run?.trainer ?? own) : null;
  let heldOut: Comparison['heldOut'];
  try {
    if (!evaluator) throw new Error('held-out sandbox pairs need a multimodal model (they have images)');
    for (const name of lora.names()) lora.get(name)!.B.assign(tf.zerosLike(lora.get(name)!.B));
    const pairs = HELD_OUT.slice(0, Math.max(1, heldOutPairs));
    const before = await evaluator.evaluate(pairs);
    restoreAdapters(engine, saved.map((t) => tf.clone(t)));
    const after = await evaluator.evaluate(pairs);
    heldOut = { before: before.metrics, after: after.metrics, pairs: after.pairs };
    notices.push(...after.notices);
  } finally {
    restoreAdapters(engine, saved);
    own?.dispose();
  }
  return { runId: run?.runId ?? runId, step: run?.trainer.stepsDone ?? null, generations, heldOut, notices };
}

async function exportAdapter(): Promise<ReplyValues['exportAdapter']> {
  if (run?.loop) throw new Error('pause the run before exporting its adapter');
  if (!model?.engine) throw new Error('load a model and train first');
  const base = model.spec.kind === 'catalog' ? catalogEntry(model.spec.entryId).path.replace(/^models\//, '').replace(/\/$/, '') : model.label;
  return exportPeftAdapter(model.engine.model.lora, { baseModel: base });
}

async function importAdapter(files: { 'adapter_model.safetensors': Uint8Array; 'adapter_config.json'?: string }): Promise<ReplyValues['importAdapter']> {
  if (run?.loop) throw new Error('pause or stop the run before importing an adapter');
  if (!model) throw new Error('load a model first');
  let engine = model.engine!;
  const lora = engine.model.lora;
  const config = readPeftConfig(files['adapter_config.json']);
  // The whole file is checked against the adapters it would load into before anything changes: a bad file leaves
  // the adapter in use (and a paused run) as they were.
  checkPeftAdapter(files, adapterLayout(lora, config));
  if ((config.r ?? lora.r) !== lora.r || (config.alpha ?? lora.alpha) !== lora.alpha) {
    // Reload the model with adapters of the file's rank and alpha (same target modules).
    if (run) {
      run.trainer.dispose();
      run = null;
    }
    engine = await ensureEngine(model.spec, { r: config.r ?? lora.r, alpha: config.alpha ?? lora.alpha, targetModules: [...lora.targetModules] });
  } else if (run) {
    // The imported weights replace the paused run's; that run resumes from its checkpoint instead.
    run.trainer.dispose();
    run = null;
  }
  importPeftAdapter(files, engine.model.lora);
  return { ...modelInfo(model), tensors: engine.model.lora.variables().length };
}

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.type) {
    case 'init': {
      const choice = await initBackend();
      emit({ kind: 'backend', backend: choice.backend, reason: choice.reason });
      return { backend: choice.backend, reason: choice.reason };
    }
    case 'load': {
      if (run?.loop) throw new Error('a run is in progress; pause or stop it before loading a model');
      const lora = model && sameSpec(model.spec, req.model) ? model.engine?.model.lora : undefined;
      // A paused run gives way to the model loaded, once it has loaded: a failed load keeps both.
      const paused = run;
      run = null;
      try {
        await ensureEngine(req.model, lora ? { r: lora.r, alpha: lora.alpha, targetModules: [...lora.targetModules] } : loraOptions(resolveSettings({})), req.files);
      } catch (err) {
        run = paused;
        throw err;
      }
      paused?.trainer.dispose();
      return modelInfo(model!);
    }
    case 'start':
      return start(req);
    case 'resume':
      return resume(req.runId, req.checkpointEvery, req.files);
    case 'pause':
      return halt('pause');
    case 'stop':
      return halt('stop');
    case 'compare':
      return compare(req.runId, req);
    case 'exportAdapter':
      return exportAdapter();
    case 'importAdapter':
      return importAdapter(req.files);
    case 'deleteCheckpoint':
      if (run?.runId === req.runId && run.loop) throw new Error('stop the run before deleting it');
      if (run?.runId === req.runId) {
        run.trainer.dispose();
        run = null;
      }
      await deleteCheckpoint(req.runId);
      return null;
    case 'checkpoints':
      return listCheckpoints();
    case 'injectNonFinite':
      inject = req.which;
      return null;
  }
}

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  const req = e.data;
  handle(req).then(
    (value) => {
      if (req.type === 'exportAdapter' && value) {
        const files = value as ReplyValues['exportAdapter'];
        self.postMessage({ type: 'reply', id: req.id, ok: true, value } satisfies WorkerMessage, [files['adapter_model.safetensors'].buffer as ArrayBuffer]);
      } else post({ type: 'reply', id: req.id, ok: true, value });
    },
    (err: unknown) => post({ type: 'reply', id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
};
