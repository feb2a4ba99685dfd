/**
 * The kernels training dispatches, each registered on every backend the workbench claims (cpu, wasm, webgpu,
 * webgl): the trainer's LoRA step (`optimizerStep`, DPO and ASPO with its in-graph sentence weights) and a
 * full-weight step (the gradient of the same ASPO loss in every weight tensor of tiny-smolvlm, the vision tower's
 * included, from the image's pixels). A kernel one backend lacks fails here by name, instead of a training run
 * failing on that backend: gather's gradient (UnsortedSegmentSum), say, which the WASM backend does not have.
 * The full-weight step then runs on WASM for real, and its gradients are checked against the CPU backend's.
 */
import * as tf from '@tensorflow/tfjs';
// Registers the WebGPU kernels; the backend itself needs a GPU adapter (startNodeBackend('webgpu') installs one).
import '@tensorflow/tfjs-backend-webgpu';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeBackend } from '../scripts/lib/nodeBackend';
import { fixtureSource } from '../scripts/lib/nodeModelSource';
import { aspoObjectiveTf } from '../src/aspo/objective.tf';
import { sentenceWeightsTf } from '../src/aspo/weights.tf';
import { expectedShapes } from '../src/models/tfjs/weights';
import { loadTfjsEngine, type TfjsEngine } from '../src/models/tfjs/engine';
import type { Idefics3Model } from '../src/models/tfjs/idefics3';
import { promptText } from '../src/models/teacherForcing';
import { Adam } from '../src/train/adam';
import { optimizerStep } from '../src/train/optimizerStep';
import { preparePair, type PreparedPair } from '../src/train/pairPreparation';
import { resolveSettings } from '../src/train/settings';
import { squareImage } from './setup/images';

const CLAIMED_BACKENDS = ['cpu', 'wasm', 'webgpu', 'webgl'];

const PAIR = {
  prompt: 'What is in the picture?',
  chosen: 'A red square. It sits on a blue ground.',
  rejected: 'A green circle on white.',
  image: 'square',
  similarity: { chosen: [0.31, 0.22] },
};

interface Loaded {
  engine: TfjsEngine;
  prepared: PreparedPair;
  /** the processor's pixel values of the pair's image, [tiles, C, H, W] */
  pixels: tf.Tensor4D;
}

async function load(): Promise<Loaded> {
  const engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'));
  const image: RawImage = squareImage(40, 32);
  const prepared = await preparePair({ engine, settings: resolveSettings({}), loadImage: async () => image }, PAIR, 'the pair');
  if ('leftOut' in prepared) throw new Error(prepared.leftOut);
  const inputs = await engine.processor!(promptText(engine.tokenizer, PAIR.prompt, true, engine.format), image);
  const [, n, c, h, w] = inputs.pixel_values.dims as number[];
  const pixels = tf.tensor4d(inputs.pixel_values.data as Float32Array, [n, c, h, w]);
  return { engine, prepared, pixels };
}

/** Every weight tensor of the model (the LoRA variables aside), named by where it sits. */
function modelWeights(model: Idefics3Model): { name: string; tensor: tf.Tensor }[] {
  const found = new Map<tf.Tensor, string>();
  const walk = (value: unknown, path: string) => {
    if (value instanceof tf.Variable) return;
    if (value instanceof tf.Tensor) {
      // A tied lm_head is the embedding tensor itself: one weight, with the gradient of both uses.
      if (!found.has(value)) found.set(value, path);
      return;
    }
    if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
  };
  walk({ vision: model.vision.weights, connector: model.connector.proj, text: model.text.weights }, '');
  return [...found].map(([tensor, name]) => ({ name, tensor }));
}

/** The ASPO loss of the pair computed from the image's pixels, so that every weight of the model is on its path. */
function fullWeightLoss({ engine, prepared, pixels }: Loaded): tf.Scalar {
  const model = engine.model as Idefics3Model;
  const settings = resolveSettings({});
  const features = model.visionFeatures(pixels).reshape([1, -1, engine.config.text.hiddenSize]) as tf.Tensor3D;
  const lp = engine.responseLogprobs({ ...prepared.encoded, imageFeatures: features }, [prepared.chosen, prepared.rejected], true);
  const nc = prepared.chosen.ids.length;
  const nr = prepared.rejected.ids.length;
  const chosenPolicyLogps = lp.slice([0, 0], [1, nc]).reshape([nc]) as tf.Tensor1D;
  return aspoObjectiveTf({
    chosenPolicyLogps,
    rejectedPolicyLogps: lp.slice([1, 0], [1, nr]).reshape([nr]) as tf.Tensor1D,
    chosenRefLogps: prepared.chosen.refLogps,
    rejectedRefLogps: prepared.rejected.refLogps,
    tokenUnit: prepared.chosen.tokenSentence,
    weights: sentenceWeightsTf(prepared.similarity, chosenPolicyLogps, prepared.chosen.tokenSentence, settings.alpha),
    beta: settings.beta,
    normalization: settings.normalization,
  }).loss;
}

/** The full-weight step's gradients, downloaded, by weight name. */
async function fullWeightGradients(loaded: Loaded): Promise<Map<string, Float32Array>> {
  const weights = modelWeights(loaded.engine.model as Idefics3Model);
  const grads = tf.grads(() => fullWeightLoss(loaded))(weights.map((w) => w.tensor));
  const values = await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>));
  tf.dispose(grads);
  return new Map(weights.map((w, i) => [w.name, values[i]]));
}

/**
 * The kernels `run` dispatches. tf.profile also lists each tf.customGrad op under the name of the scope it ran
 * in ('forward', 'unnamed scope'), whose own kernels are listed apart; a name the running backend has no kernel
 * of cannot have been dispatched to it.
 */
async function kernelsOf(run: () => Promise<void>): Promise<string[]> {
  const { kernelNames } = await tf.profile(run);
  return [...new Set(kernelNames)].filter((k) => tf.getKernel(k, tf.getBackend()) !== undefined).sort();
}

function missing(kernels: string[]): Record<string, string[]> {
  return Object.fromEntries(CLAIMED_BACKENDS.map((b) => [b, kernels.filter((k) => tf.getKernel(k, b) === undefined)]));
}

const NONE_MISSING = Object.fromEntries(CLAIMED_BACKENDS.map((b) => [b, []]));

let cpu: Loaded;
let cpuGradients: Map<string, Float32Array>;
let fullWeightKernels: string[];

beforeAll(async () => {
  await startNodeBackend('cpu');
  cpu = await load();
  fullWeightKernels = await kernelsOf(async () => {
    cpuGradients = await fullWeightGradients(cpu);
  });
});

afterAll(() => {
  cpu.pixels.dispose();
  cpu.engine.dispose();
});

describe('kernels of a training step', () => {
  it('a LoRA step (DPO, and ASPO with sentence weights from the policy) uses only kernels every claimed backend has', async () => {
    for (const objective of ['dpo', 'aspo'] as const) {
      const settings = resolveSettings({ objective, lr: 1e-3 });
      const variables = cpu.engine.model.lora.variables();
      const adam = new Adam(variables);
      const kernels = await kernelsOf(async () => {
        await optimizerStep({ engine: cpu.engine, settings, variables, adam }, [cpu.prepared], 1e-3);
      });
      adam.dispose();
      // A real step: the forward, its backward through the LoRA product, and Adam's update.
      expect(kernels).toEqual(expect.arrayContaining(['BatchMatMul', 'Softmax', 'Sqrt', 'Transpose']));
      expect({ objective, missing: missing(kernels) }).toEqual({ objective, missing: NONE_MISSING });
    }
  });

  it('a full-weight step reaches every weight tensor and uses only kernels every claimed backend has', () => {
    const config = cpu.engine.config;
    // One gradient per tensor of model.safetensors (a tied lm_head is embed_tokens).
    expect(cpuGradients.size).toBe(expectedShapes(config).size);
    for (const [name, g] of cpuGradients) expect({ name, reached: g.some((v) => v !== 0) }).toEqual({ name, reached: true });
    // The embedding lookups' backward is in it (the token table, the image rows, the vision position table).
    expect(fullWeightKernels).toContain('ScatterNd');
    expect(missing(fullWeightKernels)).toEqual(NONE_MISSING);
  });

  it("the full-weight step runs on WASM, and its gradients equal the CPU backend's within 1e-4 (relative where large)", async () => {
    await startNodeBackend('wasm');
    const wasm = await load();
    try {
      const wasmGradients = await fullWeightGradients(wasm);
      expect([...wasmGradients.keys()]).toEqual([...cpuGradients.keys()]);
      let squaredError = 0;
      let squaredNorm = 0;
      for (const [name, expected] of cpuGradients) {
        const got = wasmGradients.get(name)!;
        let worst = 0;
        expected.forEach((e, i) => {
          worst = Math.max(worst, Math.abs(got[i] - e) / Math.max(1, Math.abs(e)));
          squaredError += (got[i] - e) ** 2;
          squaredNorm += e ** 2;
        });
        expect({ name, worst: worst <= 1e-4 ? 'within 1e-4' : worst }).toEqual({ name, worst: 'within 1e-4' });
      }
      // Most weights' gradients are far below 1e-4, so the whole gradient is compared too, relative to its norm.
      expect(Math.sqrt(squaredError / squaredNorm)).toBeLessThan(1e-4);
    } finally {
      wasm.pixels.dispose();
      wasm.engine.dispose();
      await startNodeBackend('cpu');
    }
  });
});
