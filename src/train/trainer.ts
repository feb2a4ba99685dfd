/**
 * The ASPO / DPO training loop on the TF.js engine: LoRA adapters only, Adam, warm-up + cosine schedule,
 * gradient accumulation, global-norm clipping, non-finite steps skipped, seeded data order, checkpoints.
 * Pure TS without DOM, so the same class runs in a Web Worker (WebGPU) and in Node (CPU backend, the CLI).
 *
 *   const trainer = new Trainer({ engine, pairs, settings, loadImage, similarity });
 *   await trainer.prepare(onProgress);          // caches per pair, once: prompt encoding + vision features,
 *                                               // reference log-probs (adapters off), similarities, token→sentence maps
 *   while (!trainer.done) report = await trainer.step();   // policy forward + backward only
 *   await trainer.evaluate(heldOut);            // held-out metrics (rewards/accuracies, …)
 *   const ckpt = await trainer.exportState();   // → IndexedDB;  later: new Trainer(…); await prepare(); await importState(ckpt)
 *
 * One optimizer step on `batchSize` pairs:
 *  1. If the weights need the policy's perplexity (objective aspo, perplexitySource policy, α < 1), a forward
 *     pass without gradient gives the *detached* policy log-probs of each pair first: TF.js records the forward
 *     and the backward in one synchronous call, and the weights (plain numbers, from `granularityUnits`) must
 *     be known before it. With perplexitySource 'reference', α = 1 or DPO this pass is skipped.
 *  2. The weights of the batch: `granularityUnits` (so `response` granularity normalises across the batch).
 *  3. Per pair, chosen and rejected in one forward: loss `aspoObjectiveTf(…).loss / batchSize`, gradients of the
 *     LoRA variables summed over the batch (gradient accumulation).
 *  4. Loss, global gradient norm and the policy log-probs are read back; if any is not finite the step is skipped
 *     and reported, nothing is applied (a policy that is not finite already in step 1 skips the step there).
 *     Otherwise the gradient is clipped to `gradClipNorm` and Adam updates the adapters.
 *  5. Metrics from `aspoBatchMetrics` on the policy log-probs of step 3 (names as TRL's DPOTrainer logs them);
 *     all NaN when those are not finite.
 */
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import { granularityUnits, aspoBatchMetrics, type BatchMetrics, type PairScores } from '../aspo/objective';
import { aspoObjectiveTf } from '../aspo/objective.tf';
import { sentenceWeightsTf } from '../aspo/weights.tf';
import { assignTokensToSentences, splitSentences } from '../aspo/sentences';
import type { PreferencePair } from '../data/pairs';
import { sandboxImage } from '../data/sandbox';
import type { EncodedPrompt, TfjsEngine } from '../models/tfjs/engine';
import type { LoraAdapters, LoraOptions } from '../models/tfjs/lora';
import { Prng } from '../models/prng';
import { sumTensors } from '../tf/sum';
import { Adam } from './adam';
import { learningRate } from './schedule';
import { resolveSettings, totalSteps, type TrainSettings, type TrainSettingsInput } from './settings';

/** Loads the image a pair names (a path, a sandbox key, an IndexedDB key…). */
export type ImageLoader = (key: string, pair: PreferencePair) => Promise<RawImage>;
/** `S_i` (Eq. 6) of each sentence of the chosen response (the CLIP scorer, or a stand-in). */
export type SimilarityFn = (pair: PreferencePair, sentences: string[]) => Promise<number[]>;

export interface TrainerOptions {
  engine: TfjsEngine;
  /** the training pairs */
  pairs: PreferencePair[];
  settings?: TrainSettingsInput;
  /** default: the sandbox's `sandbox:<id>` images; anything else throws */
  loadImage?: ImageLoader;
  /** used when a pair carries no `similarity.chosen`; needed only by ASPO with α > 0 */
  similarity?: SimilarityFn;
  /** how messages name each training pair, e.g. `pairs.jsonl:7` (its file and line); default `training pair N` */
  pairLabels?: readonly string[];
}

export interface StepReport {
  /** 1-based number of this optimizer step */
  step: number;
  /** learning rate used (or that would have been used, when skipped) */
  lr: number;
  metrics: BatchMetrics;
  /** global L2 norm of the accumulated gradient, before clipping */
  gradNorm: number;
  /** whether the gradient was scaled down to gradClipNorm */
  clipped: boolean;
  /** why the update was not applied (loss or gradient not finite); absent when it was applied */
  skipped?: string;
  /** truncations of the batch's pairs, skips, … — never silent */
  notices: string[];
  /** wall time of the step */
  ms: number;
  /** indices (into the training pairs) of the batch */
  pairs: number[];
  /** epoch the batch started in (0-based) */
  epoch: number;
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

/** Everything to resume a run exactly; structured-cloneable (IndexedDB, postMessage). */
export interface TrainerCheckpoint {
  format: 'aspo-trainer-checkpoint';
  version: 1;
  /** optimizer steps taken (skipped ones included) */
  step: number;
  totalSteps: number;
  settings: TrainSettings;
  /** FNV-1a of the training pairs, to refuse resuming on other data */
  dataFingerprint: string;
  /** LoRA weights by PEFT name (`base_model.model.<module>.lora_A.weight`, …) */
  adapters: Record<string, { shape: number[]; data: Float32Array }>;
  /** Adam state: updates applied and both moments, by PEFT name */
  optimizer: { t: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> };
  dataOrder: { epoch: number; cursor: number };
  history: StepReport[];
}

interface PreparedResponse {
  /** response token ids after truncation */
  ids: number[];
  refLogps: number[];
}

interface PreparedPair {
  /** how messages name the pair */
  label: string;
  encoded: EncodedPrompt;
  chosen: PreparedResponse & { tokenSentence: number[] };
  rejected: PreparedResponse;
  /** S_i of the chosen sentences that kept at least one token */
  similarity: number[];
  notices: string[];
}

/** LoRA options to load the engine with, so its adapters match the settings. */
export function loraOptions(settings: TrainSettings): LoraOptions {
  return { r: settings.lora.r, alpha: settings.lora.alpha, targetModules: settings.lora.targetModules, seed: settings.seed };
}

/** The default image loader: the bundled sandbox pictures. */
export const sandboxImageLoader: ImageLoader = async (key) => {
  const image = sandboxImage(key);
  if (!image) throw new Error(`no image loader was given for image "${key}" (only sandbox:<id> images load by default)`);
  return new RawImage(image.data, image.width, image.height, image.channels);
};

function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function pairsFingerprint(pairs: readonly PreferencePair[]): string {
  let h = 0x811c9dc5;
  for (const p of pairs) h = fnv1a(JSON.stringify([p.prompt, p.chosen, p.rejected, p.image ?? null, p.similarity?.chosen ?? null]), h);
  return `${pairs.length}:${h.toString(16)}`;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The seeded order of the pairs in each epoch (Fisher–Yates), a pure function of seed and epoch. */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  const prng = new Prng((seed * 7919 + epoch * 104729 + 17) >>> 0);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(prng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Resets the adapters as `LoraAdapters` initialises them: A ~ Kaiming-uniform(a=√5) from Prng(seed) in creation order, B = 0. */
export function resetAdapters(lora: LoraAdapters, seed: number): void {
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

/** The metrics of TRL's DPOTrainer, each NaN: what a step reports when its log-probs are not finite. */
function nanMetrics(): BatchMetrics {
  const metrics: Record<keyof BatchMetrics, number> = {
    loss: NaN,
    'rewards/chosen': NaN,
    'rewards/rejected': NaN,
    'rewards/margins': NaN,
    'rewards/accuracies': NaN,
    'logps/chosen': NaN,
    'logps/rejected': NaN,
    'aspo/margin': NaN,
    'aspo/lambda': NaN,
    'aspo/weight_mean': NaN,
    'aspo/weight_std': NaN,
  };
  return metrics;
}

/** The reference's log-probs were finite (prepare checks them), so a policy that is not must have run away. */
const DIVERGED = ' (the adapters have diverged; a lower learning rate avoids this)';

/** Which log-prob of the pair is not finite, in words; undefined when all are. */
function firstNonFinite(p: PreparedPair, chosen: readonly number[], rejected: readonly number[], model: 'policy' | 'reference'): string | undefined {
  for (const [which, values] of [['chosen', chosen], ['rejected', rejected]] as const) {
    const t = values.findIndex((v) => !Number.isFinite(v));
    if (t >= 0) return `the ${model} log-prob of token ${t + 1} of the ${which} response of ${p.label} is ${values[t]}`;
  }
  return undefined;
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
  private readonly loadImage: ImageLoader;
  private readonly similarityFn?: SimilarityFn;
  private readonly labels: readonly string[];
  private readonly lora: LoraAdapters;
  private readonly variables: tf.Variable[];
  private readonly adam: Adam;
  private prepared: (PreparedPair | null)[] | null = null;
  private readonly evalCache = new WeakMap<PreferencePair, PreparedPair | null>();
  private stepIndex = 0;
  private epoch = 0;
  private cursor = 0;
  private order: number[];

  constructor(options: TrainerOptions) {
    this.settings = resolveSettings(options.settings ?? {});
    this.engine = options.engine;
    this.pairs = options.pairs.slice();
    if (this.pairs.length === 0) throw new RangeError('there are no training pairs');
    this.totalSteps = totalSteps(this.settings, this.pairs.length);
    this.loadImage = options.loadImage ?? sandboxImageLoader;
    this.similarityFn = options.similarity;
    if (options.pairLabels && options.pairLabels.length !== this.pairs.length) {
      throw new RangeError(`${options.pairLabels.length} pair labels for ${this.pairs.length} training pairs`);
    }
    this.labels = options.pairLabels?.slice() ?? this.pairs.map((_, i) => `training pair ${i + 1}`);
    this.lora = this.engine.model.lora;
    const { r, alpha, targetModules } = this.settings.lora;
    if (this.lora.r !== r || this.lora.alpha !== alpha || !sameList([...this.lora.targetModules].sort(), [...targetModules].sort())) {
      throw new Error(
        `the model's LoRA adapters (r ${this.lora.r}, alpha ${this.lora.alpha}, ${this.lora.targetModules.join(', ')}) do not match the ` +
          `settings (r ${r}, alpha ${alpha}, ${targetModules.join(', ')}); load the model with loraOptions(settings)`,
      );
    }
    if (this.lora.names().length === 0) throw new Error(`the model has no layer named ${targetModules.join(', ')} to put an adapter on`);
    this.variables = this.lora.variables();
    resetAdapters(this.lora, this.settings.seed);
    this.adam = new Adam(this.variables);
    this.order = epochOrder(this.pairs.length, this.settings.seed, 0);
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

  /** Whether the weights depend on the current policy's (detached) log-probs. */
  private get weightsNeedPolicy(): boolean {
    const s = this.settings;
    return s.objective === 'aspo' && s.perplexitySource === 'policy' && s.alpha < 1;
  }

  /**
   * Sentence weights from the policy are computed inside the gradient pass (`sentenceWeightsTf`), so ASPO runs
   * one forward per pair like DPO; the token and response ablations read them first in a forward without gradient.
   */
  private get weightsInGraph(): boolean {
    return this.weightsNeedPolicy && this.settings.granularity === 'sentence';
  }

  private get needsSimilarity(): boolean {
    return this.settings.objective === 'aspo' && this.settings.alpha > 0;
  }

  private async preparePair(pair: PreferencePair, label: string): Promise<PreparedPair | null> {
    const { engine } = this;
    const maxSeqLen = this.settings.maxSeqLen;
    let image: RawImage | undefined;
    if (pair.image !== undefined) {
      // A picture that does not load loses its pair, not the run, like a malformed line of the data.
      try {
        image = await this.loadImage(pair.image, pair);
      } catch (err) {
        this.notices.push(`${label} left out: image "${pair.image}" did not load: ${(err as Error).message}`);
        return null;
      }
    }
    const encoded = await engine.encodePrompt(pair.prompt, image);
    // Chosen and rejected run in one forward: the model's window, or what its attention fits for two, may be less than maxSeqLen.
    const fits = engine.sequenceLimit(2);
    const limit = maxSeqLen <= fits.tokens ? { tokens: maxSeqLen, name: 'maxSeqLen' } : fits;
    if (limit.tokens - encoded.promptIds.length < 1) {
      this.notices.push(`${label} left out: its prompt alone has ${encoded.promptIds.length} tokens, ${limit.name} is ${limit.tokens}`);
      return null;
    }
    const notices: string[] = [];
    // Cut before any per-token work, so that a response of any length costs only what is kept.
    const [chosen, rejected] = [pair.chosen, pair.rejected].map((r) => engine.encodeResponse(encoded, pair.prompt, r, limit));
    for (const [which, r] of [['chosen', chosen], ['rejected', rejected]] as const) {
      if (r.cut) notices.push(`${label}: ${which} response truncated from ${r.tokens.fullLength} to ${r.tokens.ids.length} tokens (${r.cut})`);
    }
    const chosenIds = chosen.tokens.ids;
    const rejectedIds = rejected.tokens.ids;
    const sentences = splitSentences(pair.chosen);
    const tokenSentence = assignTokensToSentences(sentences, chosen.tokens.offsets, chosen.tokens.eosIndex);
    const keptSentences = Math.max(...tokenSentence) + 1;
    if (keptSentences < sentences.length) {
      notices.push(`${label}: ${sentences.length - keptSentences} of ${sentences.length} chosen sentences cut off entirely by the truncation`);
    }
    let similarity: number[];
    if (!this.needsSimilarity) {
      similarity = new Array<number>(sentences.length).fill(0);
    } else {
      // The callback (CLIP) is asked only about the sentences the truncation kept.
      const asked = pair.similarity?.chosen ? sentences.length : keptSentences;
      const given =
        pair.similarity?.chosen ?? (this.similarityFn ? await this.similarityFn(pair, sentences.slice(0, asked).map((s) => s.text)) : undefined);
      if (!given) {
        throw new Error(`${label} has no similarity.chosen and no similarity callback was given; ASPO with α > 0 needs S_i per sentence (or use α = 0, ASPO-P)`);
      }
      if (given.length !== asked || given.some((v) => !Number.isFinite(v))) {
        throw new Error(`${label}: ${given.length} similarities for ${asked} chosen sentences; need one finite value per sentence`);
      }
      similarity = given.slice();
    }
    similarity = similarity.slice(0, keptSentences);
    // Reference log-probs: adapters off, once per pair.
    const ref = engine.responseLogprobs(encoded, [{ ids: chosenIds }, { ids: rejectedIds }], false);
    const values = (await ref.data()) as Float32Array;
    const width = ref.shape[1];
    ref.dispose();
    const prepared: PreparedPair = {
      label,
      encoded,
      chosen: { ids: chosenIds, refLogps: Array.from(values.subarray(0, chosenIds.length)), tokenSentence },
      rejected: { ids: rejectedIds, refLogps: Array.from(values.subarray(width, width + rejectedIds.length)) },
      similarity,
      notices,
    };
    const bad = firstNonFinite(prepared, prepared.chosen.refLogps, prepared.rejected.refLogps, 'reference');
    if (bad) {
      this.notices.push(`${label} left out: ${bad} (does the base model hold NaN or infinite weights?)`);
      return null;
    }
    return prepared;
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
      const p = await this.preparePair(this.pairs[i], this.labels[i]);
      if (p) this.notices.push(...p.notices);
      prepared.push(p);
    }
    if (prepared.every((p) => p === null)) {
      const shown = this.notices.slice(0, 3).join('; ');
      throw new Error(`none of the ${prepared.length} training pairs could be used: ${shown}${this.notices.length > 3 ? `; and ${this.notices.length - 3} more` : ''}`);
    }
    this.prepared = prepared;
    await onProgress?.({ done: this.pairs.length, total: this.pairs.length, message: 'ready' });
  }

  /** The next `batchSize` usable pairs in the seeded order (continuing into the next epoch). */
  private nextBatch(): { indices: number[]; epoch: number } {
    const prepared = this.prepared!;
    const indices: number[] = [];
    const epoch = this.epoch;
    let guard = 0;
    while (indices.length < this.settings.batchSize) {
      if (this.cursor >= this.order.length) {
        this.epoch += 1;
        this.cursor = 0;
        this.order = epochOrder(this.pairs.length, this.settings.seed, this.epoch);
      }
      const i = this.order[this.cursor++];
      if (prepared[i]) indices.push(i);
      if (++guard > 4 * (this.pairs.length + this.settings.batchSize)) throw new Error('no usable training pair');
    }
    return { indices, epoch };
  }

  private scores(p: PreparedPair, chosenPolicy: number[], rejectedPolicy: number[]): PairScores {
    return {
      chosen: { policyLogps: chosenPolicy, refLogps: p.chosen.refLogps, tokenSentence: p.chosen.tokenSentence, similarity: p.similarity },
      rejected: { policyLogps: rejectedPolicy, refLogps: p.rejected.refLogps },
    };
  }

  /** Detached policy log-probs of chosen and rejected (no gradient). */
  private async policyValues(p: PreparedPair): Promise<{ chosen: number[]; rejected: number[] }> {
    const lp = this.engine.responseLogprobs(p.encoded, [{ ids: p.chosen.ids }, { ids: p.rejected.ids }], true);
    const values = (await lp.data()) as Float32Array;
    const width = lp.shape[1];
    lp.dispose();
    return {
      chosen: Array.from(values.subarray(0, p.chosen.ids.length)),
      rejected: Array.from(values.subarray(width, width + p.rejected.ids.length)),
    };
  }

  /**
   * One optimizer step. `injectNonFinite` is a test hook: 'loss' multiplies the loss by NaN inside the graph
   * (so loss and gradient are NaN), 'gradient' poisons one accumulated gradient; either way the step must be
   * skipped and reported, and the weights left unchanged.
   */
  async step(options: { injectNonFinite?: 'loss' | 'gradient' } = {}): Promise<StepReport> {
    if (!this.prepared) throw new Error('call prepare() before step()');
    if (this.done) throw new Error(`the run is complete (${this.totalSteps} steps)`);
    const started = performance.now();
    const s = this.settings;
    const lr = learningRate(this.stepIndex, s.lr, s.warmupSteps, this.totalSteps);
    const { indices, epoch } = this.nextBatch();
    const batch = indices.map((i) => this.prepared![i]!);
    const notices = batch.flatMap((p) => p.notices);

    // 1–2: weights from detached policy log-probs (or the reference's, when they do not depend on the policy).
    // All forwards are queued before the first read-back, so a GPU backend is synchronised once per step here.
    const policies = this.weightsNeedPolicy && !this.weightsInGraph
      ? await Promise.all(batch.map((p) => this.policyValues(p)))
      : batch.map((p) => ({ chosen: p.chosen.refLogps, rejected: p.rejected.refLogps }));
    const unweighable = batch.map((p, j) => firstNonFinite(p, policies[j].chosen, policies[j].rejected, 'policy')).find((m) => m !== undefined);
    if (unweighable) {
      // No weights can be formed from them, so there is no loss to differentiate either.
      return this.record({ lr, metrics: nanMetrics(), gradNorm: NaN, clipped: false, skipped: `${unweighable}${DIVERGED}; update not applied`, notices, started, indices, epoch });
    }
    const units = granularityUnits(
      batch.map((p, j) => this.scores(p, policies[j].chosen, policies[j].rejected)),
      s,
    );

    // 3: gradient of the mean loss, accumulated pair by pair.
    let accumulated: tf.Tensor[] | null = null;
    const lossParts: tf.Scalar[] = [];
    const kept: tf.Tensor2D[] = [];
    batch.forEach((p, j) => {
      const nc = p.chosen.ids.length;
      const nr = p.rejected.ids.length;
      const { value, grads } = tf.variableGrads(() => {
        const lp = this.engine.responseLogprobs(p.encoded, [{ ids: p.chosen.ids }, { ids: p.rejected.ids }], true);
        kept.push(tf.keep(lp));
        const chosenPolicyLogps = lp.slice([0, 0], [1, nc]).reshape([nc]) as tf.Tensor1D;
        const inGraph = this.weightsInGraph;
        const result = aspoObjectiveTf({
          chosenPolicyLogps,
          rejectedPolicyLogps: lp.slice([1, 0], [1, nr]).reshape([nr]) as tf.Tensor1D,
          chosenRefLogps: p.chosen.refLogps,
          rejectedRefLogps: p.rejected.refLogps,
          tokenUnit: inGraph ? p.chosen.tokenSentence : units[j].tokenUnit,
          weights: inGraph ? sentenceWeightsTf(p.similarity, chosenPolicyLogps, p.chosen.tokenSentence, s.alpha) : units[j].weights,
          beta: s.beta,
          normalization: s.normalization,
        });
        const loss = tf.div(result.loss, batch.length);
        return (options.injectNonFinite === 'loss' ? tf.mul(loss, NaN) : loss) as tf.Scalar;
      }, this.variables);
      lossParts.push(value);
      const ordered = this.variables.map((v) => grads[v.name]);
      if (!accumulated) accumulated = ordered;
      else {
        const previous: tf.Tensor[] = accumulated;
        accumulated = previous.map((g, i) => tf.add(g, ordered[i]));
        tf.dispose([...previous, ...ordered]);
      }
    });
    let grads = accumulated! as tf.Tensor[];
    if (options.injectNonFinite === 'gradient') {
      const poisoned = tf.mul(grads[0], NaN);
      grads[0].dispose();
      grads = [poisoned, ...grads.slice(1)];
    }

    // 4: read back loss and gradient norm; skip a non-finite step.
    const lossTensor = sumTensors(lossParts);
    const normTensor = tf.tidy(() => tf.sqrt(sumTensors(grads.map((g) => tf.sum(tf.square(g))))));
    const [[lossValue], [gradNorm], ...keptValues] = (await Promise.all([lossTensor.data(), normTensor.data(), ...kept.map((t) => t.data())])) as Float32Array[];
    tf.dispose([lossTensor, normTensor, ...lossParts]);
    const pairScores = batch.map((p, j) => {
      const width = kept[j].shape[1];
      const values = keptValues[j];
      return this.scores(p, Array.from(values.subarray(0, p.chosen.ids.length)), Array.from(values.subarray(width, width + p.rejected.ids.length)));
    });
    tf.dispose(kept);
    // 5: the float64 re-derivation refuses non-finite log-probs, so those steps report NaN metrics instead.
    const unscorable = batch.map((p, j) => firstNonFinite(p, pairScores[j].chosen.policyLogps, pairScores[j].rejected.policyLogps, 'policy')).find((m) => m !== undefined);
    const metrics = unscorable ? nanMetrics() : aspoBatchMetrics(pairScores, s);

    let skipped: string | undefined;
    let clipped = false;
    if (unscorable) skipped = `${unscorable}${DIVERGED}; update not applied`;
    else if (!Number.isFinite(lossValue)) skipped = `loss is not finite (${lossValue}); update not applied`;
    else if (!Number.isFinite(gradNorm)) skipped = `gradient is not finite (norm ${gradNorm}); update not applied`;
    if (skipped) {
      metrics.loss = lossValue;
    } else {
      if (s.gradClipNorm > 0 && gradNorm > s.gradClipNorm) {
        clipped = true;
        const scale = s.gradClipNorm / (gradNorm + 1e-6);
        const scaled = grads.map((g) => tf.mul(g, scale));
        tf.dispose(grads);
        grads = scaled;
      }
      this.adam.apply(grads, lr);
    }
    tf.dispose(grads);
    return this.record({ lr, metrics, gradNorm, clipped, skipped, notices, started, indices, epoch });
  }

  private record(r: { lr: number; metrics: BatchMetrics; gradNorm: number; clipped: boolean; skipped?: string; notices: string[]; started: number; indices: number[]; epoch: number }): StepReport {
    this.stepIndex += 1;
    if (r.skipped) r.notices.push(`step ${this.stepIndex} skipped: ${r.skipped}`);
    const report: StepReport = {
      step: this.stepIndex,
      lr: r.lr,
      metrics: r.metrics,
      gradNorm: r.gradNorm,
      clipped: r.clipped,
      ...(r.skipped ? { skipped: r.skipped } : {}),
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
    const scores: PairScores[] = [];
    const notices: string[] = [];
    const leftOut: number[] = [];
    let unscorable: string | undefined;
    const before = this.notices.length;
    for (let i = 0; i < pairs.length; i++) {
      let p = this.evalCache.get(pairs[i]);
      if (p === undefined) {
        p = await this.preparePair(pairs[i], labels?.[i] ?? `evaluation pair ${i + 1}`);
        this.evalCache.set(pairs[i], p);
      }
      if (!p) {
        leftOut.push(i);
        continue;
      }
      notices.push(...p.notices);
      const policy = await this.policyValues(p);
      unscorable ??= firstNonFinite(p, policy.chosen, policy.rejected, 'policy');
      scores.push(this.scores(p, policy.chosen, policy.rejected));
    }
    notices.push(...this.notices.splice(before));
    if (scores.length === 0) throw new Error(`no evaluation pair could be used: ${notices.slice(0, 3).join('; ')}`);
    if (unscorable) notices.push(`evaluation metrics are NaN: ${unscorable}${DIVERGED}`);
    return { metrics: unscorable ? nanMetrics() : aspoBatchMetrics(scores, this.settings), pairs: scores.length, leftOut, notices };
  }

  /** A checkpoint of the run: adapters, Adam moments, data order, step, metrics history. */
  async exportState(): Promise<TrainerCheckpoint> {
    const names = this.variableNames();
    const adapters: TrainerCheckpoint['adapters'] = {};
    for (let i = 0; i < this.variables.length; i++) {
      adapters[names[i]] = { shape: this.variables[i].shape.slice(), data: Float32Array.from((await this.variables[i].data()) as Float32Array) };
    }
    const adam = await this.adam.exportState();
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    names.forEach((n, i) => {
      m[n] = adam.m[i];
      v[n] = adam.v[i];
    });
    return {
      format: 'aspo-trainer-checkpoint',
      version: 1,
      step: this.stepIndex,
      totalSteps: this.totalSteps,
      settings: structuredClone(this.settings),
      dataFingerprint: pairsFingerprint(this.pairs),
      adapters,
      optimizer: { t: adam.t, m, v },
      dataOrder: { epoch: this.epoch, cursor: this.cursor },
      history: structuredClone(this.history),
    };
  }

  /** Resumes from a checkpoint made by a trainer with the same settings and training pairs. */
  async importState(ckpt: TrainerCheckpoint): Promise<void> {
    if (ckpt?.format !== 'aspo-trainer-checkpoint' || ckpt.version !== 1) throw new Error('not a trainer checkpoint (format aspo-trainer-checkpoint, version 1)');
    if (stableJson(ckpt.settings) !== stableJson(this.settings)) {
      const differing = Object.keys({ ...this.settings, ...ckpt.settings }).filter(
        (k) => stableJson((ckpt.settings as unknown as Record<string, unknown>)[k]) !== stableJson((this.settings as unknown as Record<string, unknown>)[k]),
      );
      throw new Error(`the checkpoint was made with other settings (${differing.join(', ')}); create the trainer with the checkpoint's settings`);
    }
    const fingerprint = pairsFingerprint(this.pairs);
    if (ckpt.dataFingerprint !== fingerprint) throw new Error(`the checkpoint was made on other training pairs (${ckpt.dataFingerprint}, these are ${fingerprint})`);
    const names = this.variableNames();
    names.forEach((n, i) => {
      const a = ckpt.adapters[n];
      const shape = this.variables[i].shape;
      if (!a) throw new Error(`the checkpoint has no adapter tensor "${n}"`);
      if (a.shape.length !== shape.length || a.shape.some((d, k) => d !== shape[k])) {
        throw new Error(`checkpoint tensor "${n}" has shape [${a.shape.join(', ')}], the model's is [${shape.join(', ')}]`);
      }
      if (!ckpt.optimizer.m[n] || !ckpt.optimizer.v[n]) throw new Error(`the checkpoint has no optimizer moments for "${n}"`);
    });
    const extra = Object.keys(ckpt.adapters).filter((n) => !names.includes(n));
    if (extra.length > 0) throw new Error(`the checkpoint has adapter tensors this model lacks, e.g. "${extra[0]}"`);
    tf.tidy(() => names.forEach((n, i) => this.variables[i].assign(tf.tensor(ckpt.adapters[n].data, ckpt.adapters[n].shape))));
    this.adam.importState({ t: ckpt.optimizer.t, m: names.map((n) => ckpt.optimizer.m[n]), v: names.map((n) => ckpt.optimizer.v[n]) });
    this.stepIndex = ckpt.step;
    this.epoch = ckpt.dataOrder.epoch;
    this.cursor = ckpt.dataOrder.cursor;
    this.order = epochOrder(this.pairs.length, this.settings.seed, this.epoch);
    this.history.splice(0, this.history.length, ...structuredClone(ckpt.history));
  }

  /** PEFT name of each trainable variable, in `variables()` order (A then B of each adapter). */
  private variableNames(): string[] {
    return this.lora.names().flatMap((n) => [`base_model.model.${n}.lora_A.weight`, `base_model.model.${n}.lora_B.weight`]);
  }

  /** Frees the optimizer state (the engine and its adapters stay with their owner). */
  dispose(): void {
    this.adam.dispose();
  }
}
