/**
 * The ASPO objective of `aspoObjective` as TF.js ops, so that the trainer can
 * backpropagate into the policy's per-token log-probs. The weights and λ are
 * constants of the gradient: the paper's weights carry no gradient, and the
 * reward-ratio λ is a stop-gradient by definition.
 *
 * Everything stays on the device: no `dataSync`/`arraySync`, which stall the
 * GPU pipeline and returned zeros under SwiftShader WebGPU.
 */
import * as tf from '@tensorflow/tfjs';
import { meanLambda, REWARD_RATIO_EPSILON } from './objective';
import type { Normalization } from './settings';

export interface AspoTfInput {
  /** `ℓ^θ_t` of the chosen response, shape `[N_c]`. */
  chosenPolicyLogps: tf.Tensor1D;
  /** `ℓ^θ_t` of the rejected response, shape `[N_r]`. */
  rejectedPolicyLogps: tf.Tensor1D;
  chosenRefLogps: number[];
  rejectedRefLogps: number[];
  /** Unit index of each chosen token. */
  tokenUnit: number[];
  /** One weight per unit of the chosen response; a tensor must already be detached (see `sentenceWeightsTf`). */
  weights: number[] | tf.Tensor1D;
  beta: number;
  normalization: Normalization;
}

/** A `TensorContainerObject`, so that callers may return it from `tf.tidy`. */
export interface AspoTfResult extends tf.TensorContainerObject {
  /** `−log σ(M*)`. */
  loss: tf.Scalar;
  /** `M*`. */
  margin: tf.Scalar;
  /** `M = R_c − R_r`. */
  dpoMargin: tf.Scalar;
  /** λ, detached from the gradient. */
  lambda: tf.Scalar;
}

/**
 * The reward-ratio λ = R_c / R*_c as an op whose gradient is zero. TF.js has
 * no stop-gradient op; a custom gradient is one, and it keeps λ on the device.
 * The ratio is computed inside the custom op's forward pass, which TF.js does
 * not record, so backprop never meets its comparison (which has no gradient)
 * or its near-zero denominator (which would give NaN).
 */
function rewardRatioLambda(
  chosenPolicyLogps: tf.Tensor1D,
  chosenRef: tf.Tensor1D,
  coefficients: tf.Tensor1D,
  beta: number,
  fallback: tf.Scalar,
): tf.Scalar {
  const shape = chosenPolicyLogps.shape;
  const op = tf.customGrad((logps) => ({
    value: tf.tidy(() => {
      const diff = tf.sub(logps as tf.Tensor1D, chosenRef);
      const rc = tf.mul(beta, tf.sum(diff));
      const rcWeighted = tf.mul(beta, tf.sum(tf.mul(coefficients, diff)));
      const tooSmall = tf.less(tf.abs(rcWeighted), REWARD_RATIO_EPSILON);
      const safeDenominator = tf.where(tooSmall, tf.onesLike(rcWeighted), rcWeighted);
      return tf.where(tooSmall, fallback, tf.div(rc, safeDenominator));
    }),
    // Shape captured as numbers: the input tensor may be disposed before backprop.
    gradFunc: () => tf.zeros(shape),
  }));
  return op(chosenPolicyLogps) as tf.Scalar;
}

function validate(input: AspoTfInput): void {
  const { chosenPolicyLogps, rejectedPolicyLogps, chosenRefLogps, rejectedRefLogps, tokenUnit, weights, beta } =
    input;
  if (chosenPolicyLogps.rank !== 1 || rejectedPolicyLogps.rank !== 1) {
    throw new RangeError('chosenPolicyLogps and rejectedPolicyLogps must be 1-D tensors');
  }
  const nChosen = chosenPolicyLogps.shape[0];
  const nRejected = rejectedPolicyLogps.shape[0];
  if (chosenRefLogps.length !== nChosen || tokenUnit.length !== nChosen) {
    throw new RangeError(
      `chosenPolicyLogps has ${nChosen} tokens but chosenRefLogps has ${chosenRefLogps.length} ` +
        `and tokenUnit ${tokenUnit.length}; they must match`,
    );
  }
  if (rejectedRefLogps.length !== nRejected) {
    throw new RangeError(
      `rejectedPolicyLogps has ${nRejected} tokens but rejectedRefLogps has ${rejectedRefLogps.length}`,
    );
  }
  const units = Array.isArray(weights) ? weights.length : weights.shape[0];
  tokenUnit.forEach((u, t) => {
    if (!Number.isInteger(u) || u < 0 || u >= units) {
      throw new RangeError(`tokenUnit[${t}] = ${u} is not a unit index in [0, ${units})`);
    }
  });
  if (!Number.isFinite(beta)) throw new RangeError(`beta must be a finite number, got ${beta}`);
}

/**
 * Written per token, `M* = λ·β Σ_t (1 + w_unit(t))(ℓ^θ_t − ℓ^ref_t) − R_r`,
 * instead of per-unit sums: it needs no segment-sum op (absent from some
 * backends) and makes the gradient `λβ(1 + w_i)` of each chosen token plain.
 */
export function aspoObjectiveTf(input: AspoTfInput): AspoTfResult {
  validate(input);
  const { chosenPolicyLogps, rejectedPolicyLogps, tokenUnit, weights, beta, normalization } = input;
  return tf.tidy(() => {
    const betaT = tf.scalar(beta);
    const chosenRef = tf.tensor1d(input.chosenRefLogps, 'float32');
    const chosenDiff = tf.sub(chosenPolicyLogps, chosenRef);
    // Zero-length tensors make the WebGPU backend allocate a zero-size buffer, which it refuses; an empty sum is 0.
    const sumOf = (t: tf.Tensor) => (t.size === 0 ? tf.scalar(0) : tf.sum(t));
    const rejectedDiff = tf.sub(rejectedPolicyLogps, tf.tensor1d(input.rejectedRefLogps, 'float32'));
    const onePlusWeight = Array.isArray(weights) ? null : tf.add(1, weights);
    // Picked by a one-hot product, not gathered: gather's gradient (UnsortedSegmentSum) is missing on WASM, and
    // backprop reaches this pick whenever the weights come from the policy (sentenceWeightsTf). Each value is
    // w + 0·(the others), the weight itself. oneHot refuses a depth below 2, which a one-sentence response asks
    // for: it gets a column more, cut off.
    const oneHotUnits = (n: number) =>
      tf.slice(tf.cast(tf.oneHot(tf.tensor1d(tokenUnit, 'int32'), Math.max(2, n)), 'float32'), [0, 0], [-1, n]);
    const coefficients = onePlusWeight
      ? (tf.matMul(oneHotUnits(onePlusWeight.size), onePlusWeight.reshape([-1, 1])).reshape([-1]) as tf.Tensor1D)
      : tf.tensor1d(
          tokenUnit.map((u) => 1 + (weights as number[])[u]),
          'float32',
        );
    // The `mean` λ, K / Σ(1 + w_i), also the reward-ratio fallback.
    const mean: tf.Scalar = onePlusWeight
      ? onePlusWeight.size === 0
        ? tf.scalar(1)
        : tf.div(onePlusWeight.size, tf.sum(onePlusWeight))
      : tf.scalar(meanLambda(weights as number[]));
    const rewardChosen = tf.mul(betaT, sumOf(chosenDiff));
    const rewardRejected = tf.mul(betaT, sumOf(rejectedDiff));
    const rewardChosenWeighted = tf.mul(betaT, sumOf(tf.mul(coefficients, chosenDiff)));

    let lambda: tf.Scalar;
    if (normalization === 'none') {
      lambda = tf.scalar(1);
    } else if (normalization === 'mean') {
      lambda = mean;
    } else if (normalization === 'reward-ratio') {
      lambda = rewardRatioLambda(chosenPolicyLogps, chosenRef, coefficients, beta, mean);
    } else {
      throw new RangeError(`unknown normalization ${String(normalization)}`);
    }

    const margin = tf.sub(tf.mul(lambda, rewardChosenWeighted), rewardRejected) as tf.Scalar;
    const dpoMargin = tf.sub(rewardChosen, rewardRejected) as tf.Scalar;
    // softplus(−M*) = −log σ(M*). Not tf.logSigmoid: its gradient reads its
    // input from a closure, which breaks under tf.grads when only the loss is
    // returned and the margin has been disposed.
    const loss = tf.softplus(tf.neg(margin)) as tf.Scalar;
    const result: AspoTfResult = { loss, margin, dpoMargin, lambda };
    return result;
  });
}
