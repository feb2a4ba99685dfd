/**
 * Full-weight SFT on tiny-smolvlm: the loss equals the mean negative log-prob of the answers' tokens that the
 * engine's own teacher forcing gives (each example alone, with its own image), and one Adam step on the loss moves
 * every weight of the model (the vision tower's included) and lowers the loss of its batch.
 */
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureSource } from '../../scripts/lib/nodeModelSource';
import { useTestBackend } from '../../tests/setup/testBackend';
import { squareImage } from '../../tests/setup/images';
import { loadTfjsEngine, weightMapFromSafetensors, type TfjsEngine } from '../models/tfjs/engine';
import type { Idefics3Model } from '../models/tfjs/idefics3';
import { loadTrainableTfjsModel, weightMapOf } from '../models/tfjs/weights';
import { promptText, tokenizeResponse } from '../models/teacherForcing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_MODELS } from '../../scripts/lib/nodeModelSource';
import { Adam } from './adam';
import { sftLoss, type SftRow } from './sft';

const EXAMPLES = [
  { image: squareImage(32, 32), prompt: 'Describe the picture.', answer: 'A red square on blue. It is small.' },
  { image: stripes(), prompt: 'Is there a cat?', answer: 'No.' },
];

/** A second picture unlike the first: vertical green and yellow stripes. */
function stripes(): RawImage {
  const data = new Uint8ClampedArray(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) data.set(p % 8 < 4 ? [30, 180, 60] : [235, 210, 40], p * 3);
  return new RawImage(data, 32, 32, 3);
}

let engine: TfjsEngine;
let rows: SftRow[];
let pixels: tf.Tensor4D;

beforeAll(async () => {
  await useTestBackend();
  engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'));
  rows = [];
  const perImage: Float32Array[] = [];
  for (const e of EXAMPLES) {
    const inputs = await engine.processor!(promptText(engine.tokenizer, e.prompt, true, engine.format), e.image);
    rows.push({
      promptIds: Array.from(inputs.input_ids.data as ArrayLike<number | bigint>, Number),
      answerIds: tokenizeResponse(engine.tokenizer, e.prompt, e.answer, true, engine.format).ids,
    });
    perImage.push(inputs.pixel_values.data as Float32Array);
  }
  const size = perImage[0].length;
  const all = new Float32Array(size * perImage.length);
  perImage.forEach((p, i) => all.set(p, i * size));
  pixels = tf.tensor4d(all, [perImage.length, 3, 32, 32]);
});

function fixtureWeights() {
  return weightMapFromSafetensors(new Uint8Array(readFileSync(join(FIXTURE_MODELS, 'tiny-smolvlm', 'model.safetensors'))), 'model.safetensors');
}

describe('sftLoss', () => {
  it("equals the mean negative log-prob of every answer token, from the engine's teacher forcing of each example alone", async () => {
    const { model, variables } = loadTrainableTfjsModel(engine.config, fixtureWeights());
    const loss = sftLoss(model as Idefics3Model, rows, pixels);
    const got = (await loss.data())[0];
    loss.dispose();
    let sum = 0;
    let count = 0;
    for (const e of EXAMPLES) {
      const [r] = await engine.logprobs({ image: e.image, prompt: e.prompt, responses: [e.answer] });
      sum -= r.total;
      count += r.tokens.length;
    }
    expect(count).toBe(rows[0].answerIds.length + rows[1].answerIds.length);
    expect(got).toBeCloseTo(sum / count, 5);
    expect(variables.size).toBe(59);
    model.dispose();
  });

  it('one Adam step moves every weight, the vision tower included, and lowers the batch loss', async () => {
    const { model, variables } = loadTrainableTfjsModel(engine.config, fixtureWeights());
    const before = await weightMapOf(variables);
    const trainables = [...variables.values()];
    const adam = new Adam(trainables);
    const lossOf = () => sftLoss(model as Idefics3Model, rows, pixels);
    const { value, grads } = tf.variableGrads(lossOf, trainables);
    adam.apply(
      trainables.map((v) => grads[v.name]),
      1e-3,
    );
    const first = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads)]);
    const after = await weightMapOf(variables);
    const unmoved = [...before].filter(([name, t]) => t.data.every((x, i) => x === after.get(name)!.data[i])).map(([name]) => name);
    expect(unmoved).toEqual([]);
    expect([...variables.keys()].some((n) => n.includes('vision_model.encoder.layers.0'))).toBe(true);
    const second = lossOf();
    expect((await second.data())[0]).toBeLessThan(first);
    second.dispose();
    adam.dispose();
    model.dispose();
  });

  it('refuses a batch whose images and rows do not match', () => {
    const { model } = loadTrainableTfjsModel(engine.config, fixtureWeights());
    expect(() => sftLoss(model as Idefics3Model, rows.slice(0, 1), pixels)).toThrow('an SFT batch of 1 rows was given 2 images');
    expect(() => sftLoss(model as Idefics3Model, [], pixels)).toThrow('at least one row');
    model.dispose();
  });
});
