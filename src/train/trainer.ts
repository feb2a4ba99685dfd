/**
 * The ASPO / DPO trainer on the TF.js engine: one run's state — LoRA adapters (reset from the seed), Adam, the
 * seeded data order, the step count and the metrics history — and its life: prepare, step, evaluate, checkpoint.
 * Pure TS without DOM, so the same class runs in a Web Worker (WebGPU) and in Node (CPU backend, the CLI).
 *
 *   const trainer = new Trainer({ engine, pairs, settings, loadImage, similarity });
 *   await trainer.prepare(onProgress);          // once per pair: see pairPreparation.ts
 *   while (!trainer.done) report = await trainer.step();   // one optimizer step: see optimizerStep.ts
 *   await trainer.evaluate(heldOut);            // held-out metrics (rewards/accuracies, …)
 *   const ckpt = await trainer.exportState();   // → IndexedDB;  later: new Trainer(…); await prepare(); await importState(ckpt)
 *
 * The parts: `pairPreparation.ts` (what is computed once per pair), `dataOrder.ts` (the seeded batches),
 * `optimizerStep.ts` (weights, gradient, skip or update, metrics), `checkpoint.ts` (export and import).
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchMetrics } from '../aspo/objective';
import type { PreferencePair } from '../data/pairs';
import type { TfjsEngine } from '../models/tfjs/engine';
import type { LoraAdapters, LoraOptions } from '../models/tfjs/lora';
import { Prng } from '../models/prng';
import { Adam } from './adam';
import { captureCheckpoint, restoreCheckpoint, type TrainableState, type TrainerCheckpoint } from './checkpoint';
import { DataOrder } from './dataOrder';
import { DIVERGED, optimizerStep, policyMetrics, type StepOutcome, type StepReport } from './optimizerStep';
import { pairLogps, preparePair, sandboxImageLoader, type ImageLoader, type PairLogps, type PairPreparation, type PreparedPair, type SimilarityFn } from './pairPreparation';
import { learningRate } from './schedule';
import { resolveSettings, totalSteps, type TrainSettings, type TrainSettingsInput } from './settings';

export interface TrainerOptions {
  engine: TfjsEngine;
  /** the training pairs */
  pairs: PreferencePair[];
  settings?: TrainSettingsInput;
  /** default: the sandbox's `sandbox:<split>/<i>` images; anything else throws */
  loadImage?: ImageLoader;
  /** used when a pair carries no `similarity.chosen`; needed only by ASPO with α > 0 */
  similarity?: SimilarityFn;
  /** how messages name each training pair, e.g. `pairs.jsonl:7` (its file and line); default `training pair N` */
  pairLabels?: readonly string[];
}

export interface PrepareProgress {
  done: number;
  total: number;
  message: string;
}

export interface EvaluationResult {
  metrics: BatchMetrics;
  /** pairs evaluated (pairs whose image does not load or whose prompt alone exceeds maxSeqLen are left out, with a notice) */
  pairs: number;
  /** indices of the pairs left out */
  leftOut: number[];
  notices: string[];
}

/** LoRA options to load the engine with, so its adapters match the settings. */
export function loraOptions(settings: TrainSettings): LoraOptions {
  return { r: settings.lora.r, alpha: settings.lora.alpha, targetModules: settings.lora.targetModules, seed: settings.seed };
}

/** Resets the adapters as `LoraAdapters` initialises them: A ~ Kaiming-uniform(a=√5) from Prng(seed) in creation order, B = 0. */
function resetAdapters(lora: LoraAdapters, seed: number): void {
  const prng = new Prng(seed);
  for (const name of lora.names()) {
    const { A, B } = lora.get(name)!;
    const [r, inFeatures] = A.shape;
    const bound = 1 / Math.sqrt(inFeatures);
    const a = new Float32Array(r * inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = prng.uniform(-bound, bound);
    tf.tidy(() => {
      A.assign(tf.tensor2d(a, [r, inFeatures]));
      B.assign(tf.zeros(B.shape));
    });
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class Trainer {
  readonly settings: TrainSettings;
  readonly engine: TfjsEngine;
  readonly pairs: PreferencePair[];
  readonly totalSteps: number;
  /** metrics of every step so far (restored by importState) */
  readonly history: StepReport[] = [];
  /** notices of prepare(): pairs left out, truncations */
  readonly notices: string[] = [];
  private readonly preparation: PairPreparation;
  private readonly labels: readonly string[];
  private readonly trainable: TrainableState;
  private prepared: (PreparedPair | null)[] | null = null;
  private readonly evalCache = new WeakMap<PreferencePair, PreparedPair | null>();
  private stepIndex = 0;
  private order: DataOrder;

  constructor(options: TrainerOptions) {
    this.settings = resolveSettings(options.settings ?? {});
    this.engine = options.engine;
    this.pairs = options.pairs.slice();
    if (this.pairs.length === 0) throw new RangeError('there are no training pairs');
    this.totalSteps = totalSteps(this.settings, this.pairs.length);
    this.preparation = { engine: this.engine, settings: this.settings, loadImage: options.loadImage ?? sandboxImageLoader, similarity: options.similarity };
    if (options.pairLabels && options.pairLabels.length !== this.pairs.length) {
      throw new RangeError(`${options.pairLabels.length} pair labels for ${this.pairs.length} training pairs`);
    }
    this.labels = options.pairLabels?.slice() ?? this.pairs.map((_, i) => `training pair ${i + 1}`);
    const lora = this.engine.model.lora;
    const { r, alpha, targetModules } = this.settings.lora;
    if (lora.r !== r || lora.alpha !== alpha || !sameList([...lora.targetModules].sort(), [...targetModules].sort())) {
      throw new Error(
        `the model's LoRA adapters (r ${lora.r}, alpha ${lora.alpha}, ${lora.targetModules.join(', ')}) do not match the ` +
          `settings (r ${r}, alpha ${alpha}, ${targetModules.join(', ')}); load the model with loraOptions(settings)`,
      );
    }
    if (lora.names().length === 0) throw new Error(`the model has no layer named ${targetModules.join(', ')} to put an adapter on`);
    const variables = lora.variables();
    resetAdapters(lora, this.settings.seed);
    this.trainable = { lora, variables, adam: new Adam(variables) };
    this.order = new DataOrder(this.pairs.length, this.settings.seed);
  }

  /** optimizer steps taken so far */
  get stepsDone(): number {
    return this.stepIndex;
  }

  get done(): boolean {
    return this.stepIndex >= this.totalSteps;
  }

  get isPrepared(): boolean {
    return this.prepared !== null;
  }

  /** Indices of the training pairs that prepare() left out (image not loadable, prompt longer than maxSeqLen). */
  get leftOut(): number[] {
    return (this.prepared ?? []).flatMap((p, i) => (p === null ? [i] : []));
  }

  /**
   * Encodes every training pair and computes its reference log-probs and similarities, once. A promise returned
   * by `onProgress` is awaited before the next pair: a caller can let its event loop run (signals, messages) or
   * stop the preparation by rejecting.
   */
  async prepare(onProgress?: (p: PrepareProgress) => void | Promise<void>): Promise<void> {
    if (this.prepared) return;
    const prepared: (PreparedPair | null)[] = [];
    for (let i = 0; i < this.pairs.length; i++) {
      await onProgress?.({ done: i, total: this.pairs.length, message: `preparing pair ${i + 1} of ${this.pairs.length}` });
      const p = await preparePair(this.preparation, this.pairs[i], this.labels[i]);
      if ('leftOut' in p) {
        this.notices.push(p.leftOut);
        prepared.push(null);
      } else {
        this.notices.push(...p.notices);
        prepared.push(p);
      }
    }
    if (prepared.every((p) => p === null)) {
      const shown = this.notices.slice(0, 3).join('; ');
      throw new Error(`none of the ${prepared.length} training pairs could be used: ${shown}${this.notices.length > 3 ? `; and ${this.notices.length - 3} more` : ''}`);
    }
    this.prepared = prepared;
    await onProgress?.({ done: this.pairs.length, total: this.pairs.length, message: 'ready' });
  }

  /**
   * One optimizer step on the next `batchSize` usable pairs. `injectNonFinite` is a test hook (see
   * `optimizerStep`): the step must be skipped and reported, and the weights left unchanged.
   */
  async step(options: { injectNonFinite?: 'loss' | 'gradient' } = {}): Promise<StepReport> {
    const prepared = this.prepared;
    if (!prepared) throw new Error('call prepare() before step()');
    if (this.done) throw new Error(`the run is complete (${this.totalSteps} steps)`);
    const started = performance.now();
    const s = this.settings;
    const lr = learningRate(this.stepIndex, s.lr, s.warmupSteps, this.totalSteps);
    const { indices, epoch } = this.order.next(s.batchSize, (i) => prepared[i] !== null);
    const batch = indices.map((i) => prepared[i]!);
    const notices = batch.flatMap((p) => p.notices);
    const outcome = await optimizerStep({ engine: this.engine, settings: s, ...this.trainable }, batch, lr, options.injectNonFinite);
    return this.record(outcome, { lr, notices, started, indices, epoch });
  }

  private record(outcome: StepOutcome, r: { lr: number; notices: string[]; started: number; indices: number[]; epoch: number }): StepReport {
    this.stepIndex += 1;
    if (outcome.skipped) r.notices.push(`step ${this.stepIndex} skipped: ${outcome.skipped}`);
    const report: StepReport = {
      step: this.stepIndex,
      lr: r.lr,
      metrics: outcome.metrics,
      gradNorm: outcome.gradNorm,
      clipped: outcome.clipped,
      ...(outcome.skipped ? { skipped: outcome.skipped } : {}),
      notices: r.notices,
      ms: performance.now() - r.started,
      pairs: r.indices,
      epoch: r.epoch,
    };
    this.history.push(report);
    return report;
  }

  /** Metrics of the current adapters on other pairs (no gradient); their preparation is cached per pair object. */
  async evaluate(pairs: PreferencePair[], labels?: readonly string[]): Promise<EvaluationResult> {
    const used: PreparedPair[] = [];
    const notices: string[] = [];
    const leftOut: number[] = [];
    // Said once, when the pair is first prepared; a cached pair that was left out is left out silently.
    const leftOutNotices: string[] = [];
    for (let i = 0; i < pairs.length; i++) {
      let p = this.evalCache.get(pairs[i]);
      if (p === undefined) {
        const made = await preparePair(this.preparation, pairs[i], labels?.[i] ?? `evaluation pair ${i + 1}`);
        if ('leftOut' in made) leftOutNotices.push(made.leftOut);
        p = 'leftOut' in made ? null : made;
        this.evalCache.set(pairs[i], p);
      }
      if (!p) {
        leftOut.push(i);
        continue;
      }
      notices.push(...p.notices);
      used.push(p);
    }
    notices.push(...leftOutNotices);
    if (used.length === 0) throw new Error(`no evaluation pair could be used: ${notices.slice(0, 3).join('; ')}`);
    const policy: PairLogps[] = [];
    for (const p of used) policy.push(await pairLogps(this.engine, p.encoded, p, true));
    const { metrics, unscorable } = policyMetrics(used, policy, this.settings);
    if (unscorable) notices.push(`evaluation metrics are NaN: ${unscorable}${DIVERGED}`);
    return { metrics, pairs: used.length, leftOut, notices };
  }

  /** A checkpoint of the run: adapters, Adam moments, data order, step, metrics history. */
  exportState(): Promise<TrainerCheckpoint> {
    const run = { step: this.stepIndex, totalSteps: this.totalSteps, settings: this.settings, dataOrder: this.order.position, history: this.history, pairs: this.pairs };
    return captureCheckpoint(this.trainable, run);
  }

  /** Resumes from a checkpoint made by a trainer with the same settings and training pairs. */
  async importState(ckpt: TrainerCheckpoint): Promise<void> {
    restoreCheckpoint(ckpt, this.trainable, { settings: this.settings, pairs: this.pairs });
    this.stepIndex = ckpt.step;
    this.order = new DataOrder(this.pairs.length, this.settings.seed, ckpt.dataOrder);
    this.history.splice(0, this.history.length, ...structuredClone(ckpt.history));
  }

  /** Frees the optimizer state (the engine and its adapters stay with their owner). */
  dispose(): void {
    this.trainable.adam.dispose();
  }
}
