/**
 * The worker's one model: where its files come from, loading it with adapters of given LoRA settings (from the
 * kept files when only those differ), and the adapters' export and import.
 */
import { catalogEntry, sourceFor } from '../../models/catalog';
import { folderSource, memoSource, type ModelSource, type ProgressCallback } from '../../models/sources';
import { loadTfjsEngine, type TfjsEngine } from '../../models/tfjs/engine';
import { DEFAULT_LORA_TARGETS, type LoraOptions } from '../../models/tfjs/lora';
import { initBackend } from '../../tf/backend';
import type { ModelSpec } from '../checkpointStore';
import type { ModelInfo, ReplyValues } from '../client';
import { adapterLayout, checkPeftAdapter, exportPeftAdapter, importPeftAdapter, readPeftConfig } from '../peft';
import { resolveSettings } from '../settings';
import { loraOptions } from '../trainer';
import { dropRun, type WorkerState } from './state';

export interface LoadedModel {
  spec: ModelSpec;
  label: string;
  /** keeps every file read, so a reload with other LoRA settings reads nothing twice */
  source: ModelSource;
  engine: TfjsEngine | null;
  loraKey: string;
}

function loraKey(l: LoraOptions) {
  return JSON.stringify([l.r, l.alpha, [...(l.targetModules ?? DEFAULT_LORA_TARGETS)].sort()]);
}

/** The LoRA settings of the adapters the engine has now. */
export function loraOf(engine: TfjsEngine): ModelInfo['lora'] {
  const lora = engine.model.lora;
  return { r: lora.r, alpha: lora.alpha, targetModules: [...lora.targetModules] };
}

export function modelInfo(m: LoadedModel): ModelInfo {
  return { label: m.label, modelType: m.engine!.config.modelType, lora: loraOf(m.engine!) };
}

function sourceOf(spec: ModelSpec, files?: File[]): { source: ModelSource; label: string } {
  if (spec.kind === 'folder') {
    if (!files || files.length === 0) throw new Error(`the model folder "${spec.name}" must be picked again (its files are not kept across reloads)`);
    return { source: folderSource(files, { label: spec.name }), label: spec.name };
  }
  const entry = catalogEntry(spec.entryId);
  if (entry.role !== 'mllm' || !entry.engines.includes('tfjs')) throw new Error(`${entry.label} cannot be trained (it is not an MLLM with TF.js weights)`);
  if (entry.origin === 'hub' && !spec.hubEndpoint) throw new Error(`${entry.label}: no hub endpoint was recorded for it; load the model again`);
  return { source: sourceFor(entry, spec.hubEndpoint ?? ''), label: entry.label };
}

export function sameSpec(a: ModelSpec, b: ModelSpec) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The model with adapters of these LoRA settings (reloaded from the kept files when they differ). */
export async function ensureEngine(s: WorkerState, spec: ModelSpec, lora: LoraOptions, files?: File[]): Promise<TfjsEngine> {
  await initBackend();
  const key = loraKey(lora);
  const progress: ProgressCallback = (p) => s.emit({ kind: 'load-progress', file: p.file, loaded: p.loaded, total: p.total });
  const load = (source: ModelSource) => loadTfjsEngine(source, { lora: { ...lora, seed: lora.seed ?? 0 }, onProgress: progress });
  if (!s.model || !sameSpec(s.model.spec, spec) || (spec.kind === 'folder' && files)) {
    if (s.run) throw new Error('a run is active; stop it before loading another model');
    const { source, label } = sourceOf(spec, files);
    const next: LoadedModel = { spec, label, source: memoSource(source), engine: null, loraKey: key };
    // The model in use stays until the new one has loaded: a missing file or a wrong id leaves it working.
    const engine = await load(next.source);
    s.model?.engine?.dispose();
    s.model = { ...next, engine };
    s.emit({ kind: 'model', info: modelInfo(s.model) });
    return engine;
  }
  const m = s.model;
  if (!m.engine || m.loraKey !== key) {
    m.engine?.dispose();
    m.engine = null;
    m.engine = await load(m.source);
    m.loraKey = key;
    s.emit({ kind: 'model', info: modelInfo(m) });
  }
  return m.engine;
}

/** The `load` request: the same model keeps its adapters' settings; a paused run gives way once the model has loaded. */
export async function loadModel(s: WorkerState, spec: ModelSpec, files?: File[]): Promise<ReplyValues['load']> {
  if (s.run?.loop) throw new Error('a run is in progress; pause or stop it before loading a model');
  const engine = s.model && sameSpec(s.model.spec, spec) ? s.model.engine : null;
  // A failed load keeps both the model and the paused run.
  const paused = s.run;
  s.run = null;
  try {
    await ensureEngine(s, spec, engine ? loraOf(engine) : loraOptions(resolveSettings({})), files);
  } catch (err) {
    s.run = paused;
    throw err;
  }
  paused?.trainer.dispose();
  return modelInfo(s.model!);
}

export async function exportAdapter(s: WorkerState): Promise<ReplyValues['exportAdapter']> {
  if (s.run?.loop) throw new Error('pause the run before exporting its adapter');
  if (!s.model?.engine) throw new Error('load a model and train first');
  const base = s.model.spec.kind === 'catalog' ? catalogEntry(s.model.spec.entryId).path.replace(/^models\//, '').replace(/\/$/, '') : s.model.label;
  return exportPeftAdapter(s.model.engine.model.lora, { baseModel: base });
}

export async function importAdapter(
  s: WorkerState,
  files: { 'adapter_model.safetensors': Uint8Array; 'adapter_config.json'?: string },
): Promise<ReplyValues['importAdapter']> {
  if (s.run?.loop) throw new Error('pause or stop the run before importing an adapter');
  if (!s.model) throw new Error('load a model first');
  const model = s.model;
  let engine = model.engine!;
  const lora = engine.model.lora;
  const config = readPeftConfig(files['adapter_config.json']);
  // The whole file is checked against the adapters it would load into before anything changes: a bad file leaves
  // the adapter in use (and a paused run) as they were.
  checkPeftAdapter(files, adapterLayout(lora, config));
  // The imported weights replace a paused run's; that run resumes from its checkpoint instead.
  dropRun(s);
  if ((config.r ?? lora.r) !== lora.r || (config.alpha ?? lora.alpha) !== lora.alpha) {
    // Reload the model with adapters of the file's rank and alpha (same target modules).
    engine = await ensureEngine(s, model.spec, { ...loraOf(engine), r: config.r ?? lora.r, alpha: config.alpha ?? lora.alpha });
  }
  importPeftAdapter(files, engine.model.lora);
  return { ...modelInfo(model), tensors: engine.model.lora.variables().length };
}
