import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig, type Idefics3Config } from '../config';
import { SMOLVLM_256M_INSTRUCT } from '../knownConfigs';
import { useTestBackend } from './fixtures.testutil';
import { loadIdefics3Model, parameterCount, randomWeights } from './weights';

// Node only: on SwiftShader's emulated WebGPU a 256M-parameter forward takes minutes; bench:engine measures it there.
beforeAll(useTestBackend);

const SMOLVLM_256M = parseModelConfig(SMOLVLM_256M_INSTRUCT) as Idefics3Config;

describe('a model with SmolVLM-256M’s exact dimensions', () => {
  it('builds a model with SmolVLM-256M’s exact dimensions from random weights and runs the decoder', async () => {
    const w = randomWeights(SMOLVLM_256M, 0);
    let n = 0;
    for (const v of w.values()) n += v.data.length;
    expect(n).toBe(parameterCount(SMOLVLM_256M));
    const before = tf.memory().numTensors;
    const model = loadIdefics3Model(SMOLVLM_256M, w, { r: 8, alpha: 16 });
    expect(model.imageSeqLen).toBe(64);
    expect(model.lora.names()).toHaveLength(30 * 7);
    const logits = model.forward({ inputIds: [[1, 2, 3]] });
    expect(logits.shape).toEqual([1, 3, 49280]);
    const data = await logits.data();
    expect(data.every((v) => Number.isFinite(v))).toBe(true);
    logits.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);
});
