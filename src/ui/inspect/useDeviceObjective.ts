import { useEffect, useState } from 'react';
import * as tf from '@tensorflow/tfjs';
import { aspoObjectiveTf, type AspoInput } from '../../aspo';

export interface DeviceObjective {
  loss: number;
  margin: number;
}

/**
 * The same objective run as TF.js ops on the active backend (the path training takes), so the user sees that
 * the device computes what the plain-number functions compute.
 */
export function useDeviceObjective(input: AspoInput | null, ready: boolean) {
  const [value, setValue] = useState<DeviceObjective | null>(null);
  useEffect(() => {
    if (!ready || !input) {
      setValue(null);
      return;
    }
    let cancelled = false;
    const out = tf.tidy(() =>
      aspoObjectiveTf({
        chosenPolicyLogps: tf.tensor1d(input.chosen.policyLogps),
        rejectedPolicyLogps: tf.tensor1d(input.rejected.policyLogps),
        chosenRefLogps: input.chosen.refLogps,
        rejectedRefLogps: input.rejected.refLogps,
        tokenUnit: input.chosen.tokenSentence,
        weights: input.chosen.weights,
        beta: input.beta,
        normalization: input.normalization,
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
  }, [input, ready]);
  return value;
}
