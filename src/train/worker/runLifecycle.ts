/**
 * A run's life in the worker: prepared (start, or rebuilt from its IndexedDB checkpoint on resume), stepped in a
 * loop that yields to the event loop between steps — so a pause or stop request is honoured after the step in
 * flight — checkpointed every N steps and on pause and stop, and released when it ends.
 */
import { RawImage } from '@huggingface/transformers';
import type { PreferencePair } from '../../data/pairs';
import { deleteCheckpoint, loadCheckpoint, saveCheckpoint, type DataSpec, type ModelSpec } from '../checkpointStore';
import type { ReplyValues, RunStatus, StartRequest } from '../client';
import { sandboxPairs } from '../../sandbox/preferences';
import { sandboxImageLoader, type ImageLoader, type SimilarityFn } from '../pairPreparation';
import { resolveSettings, type TrainSettings } from '../settings';
import { loraOptions, Trainer } from '../trainer';
import { ensureEngine } from './model';
import { sandboxSimilarities } from './sandboxClip';
import { dropRun, type WorkerState } from './state';

export interface ActiveRun {
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

const SANDBOX_TRAIN = sandboxPairs().train;

/** A run's pairs and where their images and, for pairs without stored ones, their `S_i` come from. */
function dataPairs(data: DataSpec): { pairs: PreferencePair[]; loadImage: ImageLoader; similarity?: SimilarityFn } {
  if (data.kind === 'sandbox') {
    const count = Math.max(1, Math.min(SANDBOX_TRAIN.length, data.count ?? SANDBOX_TRAIN.length));
    return { pairs: SANDBOX_TRAIN.slice(0, count), loadImage: sandboxImageLoader, similarity: sandboxSimilarities };
  }
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

async function makeTrainer(s: WorkerState, runId: string, settings: TrainSettings, data: DataSpec, spec: ModelSpec, files?: File[]): Promise<Trainer> {
  const engine = await ensureEngine(s, spec, loraOptions(settings), files);
  const { pairs, loadImage, similarity } = dataPairs(data);
  const trainer = new Trainer({ engine, pairs, settings, loadImage, similarity });
  s.emit({ kind: 'status', runId, status: 'preparing' });
  await trainer.prepare((p) => s.emit({ kind: 'prepare', runId, ...p }));
  return trainer;
}

async function checkpoint(s: WorkerState, r: ActiveRun): Promise<void> {
  const ckpt = await r.trainer.exportState();
  await saveCheckpoint({ runId: r.runId, savedAt: Date.now(), step: ckpt.step, model: r.model, data: r.data, checkpoint: ckpt });
  r.lastSaved = ckpt.step;
  s.emit({ kind: 'checkpoint', runId: r.runId, step: ckpt.step });
}

const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function setStatus(s: WorkerState, r: ActiveRun, status: RunStatus, message?: string) {
  r.status = status;
  s.emit({ kind: 'status', runId: r.runId, status, ...(message ? { message } : {}) });
}

/** The step loop: one StepReport event per step; yields between steps so pause/stop arrive in time. */
function startLoop(s: WorkerState, r: ActiveRun) {
  r.request = null;
  setStatus(s, r, 'running');
  const sessionStart = performance.now();
  const startStep = r.trainer.stepsDone;
  r.loop = (async () => {
    try {
      while (!r.trainer.done && r.request === null) {
        const poison = s.inject;
        s.inject = null;
        const report = await r.trainer.step(poison ? { injectNonFinite: poison } : {});
        const done = r.trainer.stepsDone - startStep;
        const stepsPerSec = done / ((performance.now() - sessionStart) / 1000);
        const etaMs = ((r.trainer.totalSteps - r.trainer.stepsDone) / stepsPerSec) * 1000;
        s.emit({ kind: 'step', runId: r.runId, report, stepsPerSec, etaMs });
        if (r.trainer.stepsDone % r.checkpointEvery === 0) await checkpoint(s, r);
        await yieldToEvents();
      }
      if (r.lastSaved !== r.trainer.stepsDone) await checkpoint(s, r);
      if (r.trainer.done) setStatus(s, r, 'done');
      else setStatus(s, r, r.request === 'stop' ? 'stopped' : 'paused');
    } catch (err) {
      setStatus(s, r, 'error', (err as Error).message);
    } finally {
      r.loop = null;
    }
  })();
}

export async function start(s: WorkerState, req: StartRequest): Promise<ReplyValues['start']> {
  if (s.run?.loop) throw new Error('a run is in progress; pause or stop it first');
  dropRun(s);
  const settings = resolveSettings(req.settings);
  const trainer = await makeTrainer(s, req.runId, settings, req.data, req.model);
  const run: ActiveRun = { runId: req.runId, trainer, model: req.model, data: req.data, checkpointEvery: Math.max(1, req.checkpointEvery), status: 'running', request: null, loop: null, lastSaved: 0 };
  s.run = run;
  s.emit({ kind: 'started', runId: req.runId, totalSteps: trainer.totalSteps, fromStep: 0, notices: trainer.notices.slice() });
  startLoop(s, run);
  return { totalSteps: trainer.totalSteps, notices: trainer.notices.slice() };
}

/** Continues the paused run, or rebuilds a run from its checkpoint (after a reload) and continues it. */
export async function resume(s: WorkerState, runId: string, checkpointEvery: number, files?: File[]): Promise<ReplyValues['resume']> {
  if (s.run?.loop) throw new Error(s.run.runId === runId ? 'the run is already running' : 'another run is in progress; pause or stop it first');
  if (s.run && s.run.runId === runId && s.run.status === 'paused') {
    const run = s.run;
    run.checkpointEvery = Math.max(1, checkpointEvery);
    const fromStep = run.trainer.stepsDone;
    s.emit({ kind: 'started', runId, totalSteps: run.trainer.totalSteps, fromStep, notices: [] });
    startLoop(s, run);
    return { fromStep, totalSteps: run.trainer.totalSteps, history: [], notices: [] };
  }
  dropRun(s);
  const record = await loadCheckpoint(runId);
  if (!record) throw new Error('this run has no checkpoint to resume from');
  const trainer = await makeTrainer(s, runId, record.checkpoint.settings, record.data, record.model, files);
  await trainer.importState(record.checkpoint);
  const run: ActiveRun = { runId, trainer, model: record.model, data: record.data, checkpointEvery: Math.max(1, checkpointEvery), status: 'paused', request: null, loop: null, lastSaved: record.step };
  s.run = run;
  const notices = [`resumed from the checkpoint at step ${record.step} (saved ${new Date(record.savedAt).toISOString()})`, ...trainer.notices];
  s.emit({ kind: 'started', runId, totalSteps: trainer.totalSteps, fromStep: record.step, notices });
  startLoop(s, run);
  return { fromStep: record.step, totalSteps: trainer.totalSteps, history: record.checkpoint.history, notices };
}

/** Pause or stop: the loop ends after the step in flight and saves a checkpoint; a stopped run is released. */
export async function halt(s: WorkerState, kind: 'pause' | 'stop'): Promise<{ step: number } | null> {
  const r = s.run;
  if (!r) return null;
  if (r.loop) {
    r.request = kind;
    await r.loop;
  } else if (kind === 'stop' && r.status === 'paused') {
    if (r.lastSaved !== r.trainer.stepsDone) await checkpoint(s, r);
    setStatus(s, r, 'stopped');
  }
  const step = r.trainer.stepsDone;
  if (s.run && !s.run.loop && s.run.status !== 'paused') dropRun(s);
  return { step };
}

export async function deleteRun(s: WorkerState, runId: string): Promise<null> {
  if (s.run?.runId === runId && s.run.loop) throw new Error('stop the run before deleting it');
  if (s.run?.runId === runId) dropRun(s);
  await deleteCheckpoint(runId);
  return null;
}
