import { useEffect, useState } from 'react';
import * as tf from '@tensorflow/tfjs';
import { aspoObjectiveTf, type Normalization } from '../../aspo';
import { spreadOverTokens, type CalculatorView } from './compute';

export interface DeviceObjective {
  loss: number;
  margin: number;
}

/**
 * The same objective run as TF.js ops on the active backend (the path training takes), so the user sees that
 * the device computes what the plain-number functions compute.
 */
export function useDeviceObjective(view: CalculatorView, beta: number, normalization: Normalization, ready: boolean) {
  const [value, setValue] = useState<DeviceObjective | null>(null);
  useEffect(() => {
    if (!ready || !view.result) {
      setValue(null);
      return;
    }
    let cancelled = false;
    const chosen = spreadOverTokens(view.chosen.map((r) => r.numbers));
    const rejected = spreadOverTokens(view.rejected.map((r) => r.numbers));
    const out = tf.tidy(() =>
      aspoObjectiveTf({
        chosenPolicyLogps: tf.tensor1d(chosen.policyLogps),
        rejectedPolicyLogps: tf.tensor1d(rejected.policyLogps),
        chosenRefLogps: chosen.refLogps,
        rejectedRefLogps: rejected.refLogps,
        tokenUnit: chosen.tokenSentence,
        weights: view.chosen.map((r) => r.weight ?? 0),
        beta,
        normalization,
      }),
    );
    Promise.all([out.loss.data(), out.margin.data()])
      .then(([loss, margin]) => {
        if (!cancelled) setValue({ loss: loss[0], margin: margin[0] });
      })
      .finally(() => tf.dispose([out.loss, out.margin, out.dpoMargin, out.lambda]));
    return () => {
      cancelled = true;
    };
  }, [view, beta, normalization, ready]);
  return value;
}
