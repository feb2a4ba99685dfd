import * as tf from '@tensorflow/tfjs';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS } from '../../../scripts/lib/bundledModels';
import { switchBackend, useTestBackend } from '../../../tests/setup/testBackend';
import { parseModelConfig, type Idefics3Config, type ModelConfig } from '../config';
import { SMOLVLM_256M_INSTRUCT } from '../knownConfigs';
import type { ModelSource } from '../sources';
import { loadTfjsEngine } from './engine';
import { backendLimit, checkModelFits, longestTrainingPair, memoryFit, modelBytes, ModelTooLargeError, WASM32_HEAP_BYTES, workingSet } from './memoryFit';

/**
 * A made-up config with SmolVLM2-2.2B-Instruct's published dimensions (SmolLM2-1.7B decoder, SigLIP so400m tower):
 * the tower's 384-pixel images at 14-pixel patches are written as 378 (27 patches a side, the same 729 patches and
 * weights), since our parser asks for whole patches.
 */
const SMOLVLM2_2B_SHAPED = {
  model_type: 'idefics3',
  image_token_id: 49190,
  scale_factor: 3,
  tie_word_embeddings: false,
  text_config: {
    model_type: 'llama',
    hidden_size: 2048,
    intermediate_size: 8192,
    num_hidden_layers: 24,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    rms_norm_eps: 1e-5,
    rope_theta: 130000,
    vocab_size: 49280,
    max_position_embeddings: 8192,
  },
  vision_config: { hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27, num_attention_heads: 16, image_size: 378, patch_size: 14 },
};

/** Parameters of an Idefics3 model written out from the architecture, independently of the weight-shape table. */
function idefics3Parameters(c: Idefics3Config): number {
  const { hiddenSize: d, intermediateSize: i, numLayers, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: v } = c.text;
  const decoderLayer = d * h * hd + 2 * d * kv * hd + h * hd * d + 3 * d * i + 2 * d;
  const text = v * d * (c.text.tieWordEmbeddings ? 1 : 2) + numLayers * decoderLayer + d;
  const { hiddenSize: dv, intermediateSize: iv, numLayers: lv, patchSize: p, numChannels: ch, imageSize } = c.vision;
  const visionLayer = 4 * (dv * dv + dv) + dv * iv + iv + iv * dv + dv + 4 * dv;
  const vision = dv * ch * p * p + dv + (imageSize / p) ** 2 * dv + lv * visionLayer + 2 * dv;
  return text + vision + d * dv * c.scaleFactor ** 2;
}

function fixtureConfig(model: string): ModelConfig {
  return parseModelConfig(JSON.parse(readFileSync(join(FIXTURE_MODELS, model, 'config.json'), 'utf8')));
}

/** Bytes of the tensors in a safetensors file: its size less the 8-byte length and the JSON header. */
function safetensorsDataBytes(model: string): number {
  const path = join(FIXTURE_MODELS, model, 'model.safetensors');
  const headerLength = Number(readFileSync(path).readBigUInt64LE(0));
  return statSync(path).size - 8 - headerLength;
}

const GiB = 2 ** 30;

describe('modelBytes', () => {
  it("counts exactly the parameters the tiny models' safetensors files store (BF16: 2 bytes each, F32: 4)", () => {
    expect(modelBytes(fixtureConfig('tiny-smolvlm')).parameters * 2).toBe(safetensorsDataBytes('tiny-smolvlm'));
    expect(modelBytes(fixtureConfig('tiny-smollm2')).parameters * 4).toBe(safetensorsDataBytes('tiny-smollm2'));
  });

  it("gives SmolVLM-256M-Instruct its 256 M parameters, as the architecture counts them, and 4 bytes each", () => {
    const config = parseModelConfig(SMOLVLM_256M_INSTRUCT) as Idefics3Config;
    const bytes = modelBytes(config);
    expect(bytes.parameters).toBe(idefics3Parameters(config));
    expect(bytes.parameters).toBe(256_484_928);
    expect(bytes.weightBytes).toBe(4 * 256_484_928);
    // Linears of 30 decoder layers and the untied LM head: 30 · 576 · (576 + 192 + 192 + 576 + 3 · 1536) + 49280 · 576.
    expect(bytes.textMatrixBytes).toBe(4 * (30 * 576 * (576 + 192 + 192 + 576 + 3 * 1536) + 49280 * 576));
    expect(bytes.largestTensor.bytes).toBe(4 * 49280 * 576);
  });

  it('gives the SmolVLM2-2.2B-shaped config its 2.2 B parameters', () => {
    const config = parseModelConfig(SMOLVLM2_2B_SHAPED) as Idefics3Config;
    const { parameters } = modelBytes(config);
    expect(parameters).toBe(idefics3Parameters(config));
    expect(parameters).toBeGreaterThan(2.2e9);
    expect(parameters).toBeLessThan(2.3e9);
  });
});

describe('memoryFit', () => {
  const m256 = parseModelConfig(SMOLVLM_256M_INSTRUCT);
  const m2b = parseModelConfig(SMOLVLM2_2B_SHAPED);

  it('lets the 256M model train and run on every backend, within the 4 GiB of wasm32', () => {
    for (const use of ['training', 'inference'] as const) {
      for (const backend of ['wasm', 'cpu', 'webgpu', 'webgl']) expect(memoryFit(m256, use, backendLimit(backend)).fits, `${backend} ${use}`).toBe(true);
    }
    const train = workingSet(m256, 'wasm', 'training');
    expect(train.totalBytes).toBeLessThan(WASM32_HEAP_BYTES);
    expect(train.totalBytes).toBe(train.weightBytes + train.reserveBytes + train.activationBytes);
    expect(train.reserveBytes).toBe(2 * modelBytes(m256).textMatrixBytes);
    expect(workingSet(m256, 'cpu', 'training').reserveBytes).toBe(0);
    expect(workingSet(m256, 'wasm', 'inference').totalBytes).toBeLessThan(train.totalBytes);
  });

  // The heap after LoRA steps of the 256M shape at 2 × tokens (half prompt, half response unless said), a fresh
  // process each (memoryFit.ts' header): after one step, and after 5 (where it settles); 2 × 129 aborted at the
  // first step, 2 × 111 within four.
  const AFTER_ONE_STEP: [tokens: number, responseTokens: number, heapBytes: number][] = [
    [9, 4, 1831141376],
    [33, 16, 2325807104],
    [65, 32, 3053912064],
    [97, 48, 3812556800],
    [113, 56, 4211212288],
  ];
  const AFTER_STEPS: [tokens: number, responseTokens: number, heapBytes: number][] = [
    [33, 16, 2761621504],
    [65, 32, 3480223744],
    [95, 47, 3955228672],
    // A one-token prompt: every token but the BOS and that one a response token.
    [88, 86, 3911254016],
  ];
  const estimateAt = (tokens: number, responseTokens: number) =>
    workingSet(m256, 'wasm', 'training', { sequences: 2, tokens, responseTokens, image: false }).totalBytes;

  it('estimates a 256M LoRA step on wasm above every heap measured, within 10 % of the heap a run of steps settles at', () => {
    for (const [tokens, responseTokens, heap] of [...AFTER_ONE_STEP, ...AFTER_STEPS]) {
      expect(estimateAt(tokens, responseTokens), `2 × ${tokens}`).toBeGreaterThanOrEqual(heap);
    }
    for (const [tokens, responseTokens, heap] of AFTER_STEPS) expect(estimateAt(tokens, responseTokens), `2 × ${tokens}`).toBeLessThan(heap * 1.1);
  });

  it("puts the 256M model's longest training pair on wasm between a run of steps that ran and one that aborted", () => {
    const longest = longestTrainingPair(m256, backendLimit('wasm'))!;
    expect(longest).toBeGreaterThanOrEqual(65);
    expect(longest).toBeLessThan(111);
    const at = (tokens: number, responseTokens = Math.ceil(tokens / 2)) => estimateAt(tokens, responseTokens);
    expect(at(longest)).toBeLessThanOrEqual(WASM32_HEAP_BYTES);
    expect(at(longest + 1)).toBeGreaterThan(WASM32_HEAP_BYTES);
    // Every token a response token: more logits, a shorter pair.
    const allResponse = longestTrainingPair(m256, backendLimit('wasm'), (tokens) => tokens)!;
    expect(allResponse).toBeLessThan(longest);
    expect(at(allResponse, allResponse)).toBeLessThanOrEqual(WASM32_HEAP_BYTES);
    expect(at(allResponse + 1, allResponse + 1)).toBeGreaterThan(WASM32_HEAP_BYTES);
    expect(longestTrainingPair(m256, backendLimit('cpu'))).toBeNull();
    expect(longestTrainingPair(m2b, backendLimit('wasm'))).toBe(0);
  });

  it('refuses the 2.2B model on wasm, naming its size, the limit and the backends to use instead', () => {
    const limit = backendLimit('wasm');
    expect(memoryFit(m2b, 'inference', limit).fits).toBe(false);
    let error: unknown;
    try {
      checkModelFits('SmolVLM2-2.2B-shaped', m2b, 'training', limit);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelTooLargeError);
    const message = (error as Error).message;
    expect(message).toMatch(/^SmolVLM2-2\.2B-shaped: the model \(2\.2\d B parameters, 8\.\d GiB as float32\) does not fit the wasm backend/);
    expect(message).toContain('4.0 GiB');
    expect(message).toContain('32-bit');
    expect(message).toContain('Use webgpu');
    expect(message).toContain('--backend cpu');
    expect((error as ModelTooLargeError).alternatives).toEqual(['webgpu', 'cpu']);
  });

  it("refuses a model whose largest tensor exceeds the WebGPU device's largest buffer, and no other on webgpu", () => {
    const device = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 2 * GiB };
    // The 2.2B model's embedding and LM head: 49280 × 2048 float32 = 385 MiB.
    const fit = memoryFit(m2b, 'training', backendLimit('webgpu', device));
    expect(fit.fits).toBe(false);
    expect(fit.reason).toContain('385 MiB');
    expect(fit.reason).toContain('256 MiB');
    expect(() => checkModelFits('2B', m2b, 'training', backendLimit('webgpu', device))).toThrow(/Use cpu .*instead\.$/);
    expect(memoryFit(m256, 'training', backendLimit('webgpu', device)).fits).toBe(true);
    expect(memoryFit(m2b, 'training', backendLimit('webgpu')).fits).toBe(true);
  });

  it('knows no limit for the CPU backend or one it does not name', () => {
    expect(memoryFit(m2b, 'training', backendLimit('cpu')).fits).toBe(true);
    expect(backendLimit('tensorflow')).toMatchObject({ totalBytes: null, bufferBytes: null });
  });
});

describe('loadTfjsEngine', () => {
  beforeAll(() => switchBackend('wasm'));
  afterAll(() => useTestBackend());

  it('refuses a model too large for the active backend before it reads a weight', async () => {
    const read: string[] = [];
    const source = {
      kind: 'folder',
      label: 'big-model',
      getJson: async (name: string) => {
        read.push(name);
        return SMOLVLM2_2B_SHAPED;
      },
      getFile: async (name: string) => {
        read.push(name);
        throw new Error(`${name} must not be read`);
      },
    } as unknown as ModelSource;
    expect(tf.getBackend()).toBe('wasm');
    await expect(loadTfjsEngine(source)).rejects.toThrow(/^big-model: the model \(2\.2\d B parameters, 8\.\d GiB as float32\) does not fit the wasm backend/);
    expect(read).toEqual(['config.json']);
  });
});
