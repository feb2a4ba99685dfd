/**
 * One optimizer step on a batch of prepared pairs:
 *  1. The weights of the batch. Sentence weights from the policy are computed inside the gradient pass
 *     (`sentenceWeightsTf`), so such a step runs one forward per pair like DPO. Every other setting takes them
 *     from `granularityUnits` first — for the token and response ablations with the policy's perplexity on
 *     detached log-probs from a forward without gradient, since TF.js records forward and backward in one
 *     synchronous call and those weights (plain numbers) must be known before it.
 *  2. Per pair, chosen and rejected in one forward: loss `aspoObjectiveTf(…).loss / batchSize`, gradients of the
 *     LoRA variables summed over the batch (gradient accumulation).
 *  3. Loss, global gradient norm and the policy log-probs are read back in one synchronisation; if any is not
 *     finite the step is skipped and reported, nothing is applied. Otherwise the gradient is clipped to
 *     `gradClipNorm` and Adam updates the adapters.
 *  4. The logged metrics (TRL's names) in float64 by `aspoBatchMetrics` on those log-probs, with the weights of
 *     step 1 where there are some; all NaN when the log-probs are not finite.
 */
import * as tf from '@tensorflow/tfjs';
import { aspoBatchMetrics, granularityUnits, type BatchMetrics, type UnitWeights } from '../aspo/objective';
import { aspoObjectiveTf } from '../aspo/objective.tf';
import { sentenceWeightsTf } from '../aspo/weights.tf';
import type { TfjsEngine } from '../models/tfjs/engine';
import { sumTensors } from '../tf/sum';
import type { Adam } from './adam';
import { firstNonFiniteOf, pairLogps, pairRows, pairScores, type PairLogps, type PreparedPair } from './pairPreparation';
import type { TrainSettings } from './settings';

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

/** What the step computed; the trainer adds where in the run it was. */
export type StepOutcome = Pick<StepReport, 'metrics' | 'gradNorm' | 'clipped' | 'skipped'>;

export interface StepContext {
  engine: TfjsEngine;
  settings: TrainSettings;
  /** the LoRA variables, in the optimizer's order */
  variables: tf.Variable[];
  adam: Adam;
}

/** The reference's log-probs were finite (prepare checks them), so a policy that is not must have run away. */
export const DIVERGED = ' (the adapters have diverged; a lower learning rate avoids this)';

/** The metrics of TRL's DPOTrainer, each NaN: what a step reports when its log-probs are not finite. */
export function nanMetrics(): BatchMetrics {
  return {
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
}

/**
 * The logged metrics of a batch under the policy's log-probs, in float64; NaN with the reason when one of those
 * log-probs is not finite (the float64 objective refuses them). `units`: the weights the step used, when it had
 * them as numbers.
 */
export function policyMetrics(batch: readonly PreparedPair[], policy: readonly PairLogps[], settings: TrainSettings, units?: UnitWeights[]): { metrics: BatchMetrics; unscorable?: string } {
  const unscorable = firstNonFiniteOf(batch, policy, 'policy');
  if (unscorable) return { metrics: nanMetrics(), unscorable };
  return { metrics: aspoBatchMetrics(batch.map((p, j) => pairScores(p, policy[j])), settings, units) };
}

/** Whether the weights depend on the current policy's (detached) log-probs. */
function weightsNeedPolicy(s: TrainSettings): boolean {
  return s.objective === 'aspo' && s.perplexitySource === 'policy' && s.alpha < 1;
}

/** Whether the step computes the weights inside its gradient pass (`sentenceWeightsTf`) rather than before it. */
function weightsInGraph(s: TrainSettings): boolean {
  return weightsNeedPolicy(s) && s.granularity === 'sentence';
}

/**
 * `injectNonFinite` is a test hook: 'loss' multiplies the loss by NaN inside the graph (so loss and gradient are
 * NaN), 'gradient' poisons one accumulated gradient; either way the step must be skipped and the weights left
 * unchanged.
 */
export async function optimizerStep(ctx: StepContext, batch: PreparedPair[], lr: number, injectNonFinite?: 'loss' | 'gradient'): Promise<StepOutcome> {
  const { engine, settings: s, variables } = ctx;
  const inGraph = weightsInGraph(s);

  // 1: weights as numbers, unless the gradient pass computes them. All forwards are queued before the first
  // read-back, so a GPU backend is synchronised once here.
  let units: UnitWeights[] | undefined;
  if (!inGraph) {
    const detached = weightsNeedPolicy(s)
      ? await Promise.all(batch.map((p) => pairLogps(engine, p.encoded, p, true)))
      : batch.map((p) => ({ chosen: p.chosen.refLogps, rejected: p.rejected.refLogps }));
    const unweighable = firstNonFiniteOf(batch, detached, 'policy');
    // No weights can be formed from them, so there is no loss to differentiate either.
    if (unweighable) return { metrics: nanMetrics(), gradNorm: NaN, clipped: false, skipped: `${unweighable}${DIVERGED}; update not applied` };
    units = granularityUnits(batch.map((p, j) => pairScores(p, detached[j])), s);
  }

  // 2: gradient of the mean loss, accumulated pair by pair.
  let accumulated: tf.Tensor[] | null = null;
  const lossParts: tf.Scalar[] = [];
  const kept: tf.Tensor2D[] = [];
  batch.forEach((p, j) => {
    const nc = p.chosen.ids.length;
    const nr = p.rejected.ids.length;
    const { value, grads } = tf.variableGrads(() => {
      const lp = engine.responseLogprobs(p.encoded, [p.chosen, p.rejected], true);
      kept.push(tf.keep(lp));
      const chosenPolicyLogps = lp.slice([0, 0], [1, nc]).reshape([nc]) as tf.Tensor1D;
      const result = aspoObjectiveTf({
        chosenPolicyLogps,
        rejectedPolicyLogps: lp.slice([1, 0], [1, nr]).reshape([nr]) as tf.Tensor1D,
        chosenRefLogps: p.chosen.refLogps,
        rejectedRefLogps: p.rejected.refLogps,
        tokenUnit: units ? units[j].tokenUnit : p.chosen.tokenSentence,
        weights: units ? units[j].weights : sentenceWeightsTf(p.similarity, chosenPolicyLogps, p.chosen.tokenSentence, s.alpha),
        beta: s.beta,
        normalization: s.normalization,
      });
      const loss = tf.div(result.loss, batch.length);
      return (injectNonFinite === 'loss' ? tf.mul(loss, NaN) : loss) as tf.Scalar;
    }, variables);
    lossParts.push(value);
    const ordered = variables.map((v) => grads[v.name]);
    if (!accumulated) accumulated = ordered;
    else {
      const previous: tf.Tensor[] = accumulated;
      accumulated = previous.map((g, i) => tf.add(g, ordered[i]));
      tf.dispose([...previous, ...ordered]);
    }
  });
  let grads = accumulated! as tf.Tensor[];
  if (injectNonFinite === 'gradient') {
    const poisoned = tf.mul(grads[0], NaN);
    grads[0].dispose();
    grads = [poisoned, ...grads.slice(1)];
  }

  // 3: read back loss, gradient norm and policy log-probs; skip a non-finite step.
  const lossTensor = sumTensors(lossParts);
  const normTensor = tf.tidy(() => tf.sqrt(sumTensors(grads.map((g) => tf.sum(tf.square(g))))));
  const [[lossValue], [gradNorm], ...keptValues] = (await Promise.all([lossTensor.data(), normTensor.data(), ...kept.map((t) => t.data())])) as Float32Array[];
  tf.dispose([lossTensor, normTensor, ...lossParts]);
  const policy = batch.map((p, j) => pairRows(keptValues[j], kept[j].shape[1], p));
  tf.dispose(kept);
  // 4: with the weights of step 1 when the batch had them as numbers.
  const { metrics, unscorable } = policyMetrics(batch, policy, s, units);

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
    ctx.adam.apply(grads, lr);
  }
  tf.dispose(grads);
  return { metrics, gradNorm, clipped, skipped };
}
