/** The trainer's checkpoint as one safetensors file (the command line's run folders). */
import { describe, expect, it } from 'vitest';
import { serializeSafetensors } from '../models/safetensors';
import { checkpointFromSafetensors, checkpointToSafetensors } from './checkpointStore';
import { resolveSettings } from './settings';
import type { TrainerCheckpoint } from './checkpoint';
import type { StepReport } from './optimizerStep';

const A = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
const B = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';

function step(n: number, loss: number, skipped?: string): StepReport {
  const metrics = { loss, 'rewards/chosen': 0.25, 'rewards/rejected': -Infinity, 'rewards/margins': Infinity, 'rewards/accuracies': 1, 'logps/chosen': -3.5, 'logps/rejected': -4.25, 'aspo/margin': 0.5, 'aspo/lambda': 1, 'aspo/weight_mean': 0.5, 'aspo/weight_std': 0.125 };
  return { step: n, lr: 1e-3 / n, metrics, gradNorm: loss, clipped: false, ...(skipped ? { skipped } : {}), notices: skipped ? [`step ${n} skipped: ${skipped}`] : [], ms: 12.5, pairs: [n % 2], epoch: 0 };
}

describe('checkpointToSafetensors / checkpointFromSafetensors', () => {
  it('reads back the checkpoint it wrote, bit for bit, NaN and ±Infinity in the history included', () => {
    const checkpoint: TrainerCheckpoint = {
      format: 'aspo-trainer-checkpoint',
      version: 1,
      step: 2,
      totalSteps: 5,
      settings: resolveSettings({ steps: 5, lora: { r: 2, alpha: 4 } }),
      dataFingerprint: '3:1a2b3c',
      adapters: { [A]: { shape: [2, 3], data: new Float32Array([0.1, -0.2, 1e-30, 3.4e38, -0, 5]) }, [B]: { shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) } },
      optimizer: {
        t: 1,
        m: { [A]: new Float32Array([1e-7, 2, 3, 4, 5, 6]), [B]: new Float32Array(6).fill(0.5) },
        v: { [A]: new Float32Array(6).fill(1e-12), [B]: new Float32Array([6, 5, 4, 3, 2, 1]) },
      },
      dataOrder: { epoch: 1, cursor: 1 },
      history: [step(1, 0.69), step(2, NaN, 'loss is not finite (NaN); update not applied')],
    };
    const back = checkpointFromSafetensors(checkpointToSafetensors(checkpoint), 'checkpoint.safetensors');
    expect(back).toEqual(checkpoint);
    expect(Object.is(back.adapters[A].data[4], -0)).toBe(true);
    expect(Number.isNaN(back.history[1].metrics.loss)).toBe(true);
    expect(back.history[0].metrics['rewards/rejected']).toBe(-Infinity);
  });

  it('names the file when it is not a checkpoint', () => {
    const plain = serializeSafetensors({ x: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    expect(() => checkpointFromSafetensors(plain, 'runs/a/checkpoint.safetensors')).toThrow(/runs\/a\/checkpoint\.safetensors is not a training checkpoint/);
  });
});
