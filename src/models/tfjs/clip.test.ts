import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawImage, type Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, nodeFolderSource } from '../../../scripts/lib/nodeModelSource';
import { weightsAsStored } from '../../../scripts/tiny-models/common';
import { useTestBackend } from '../../../tests/setup/testBackend';
import { Adam } from '../../train/adam';
import { loadClipScorer, type ClipScorer } from '../clip';
import { clipContrastiveLoss, clipPooledPositions, TfjsClip, uniformity, type ClipModelConfig, type ContrastiveBatch } from './clip';

const DIR = join(FIXTURE_MODELS, 'tiny-clip');
const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as ClipModelConfig;
const weights = () => weightsAsStored(new Uint8Array(readFileSync(join(DIR, 'model.safetensors'))), 'model.safetensors');
const EOS = config.text_config.eos_token_id!;

const SENTENCES = ['There is one red circle.', 'The blue squares are on the left.', 'Two cats sit on the table by the window.'];

/** A 32×32 RGB image (the tiny CLIP's input size). */
function image32(seed: number): RawImage {
  const data = new Uint8ClampedArray(32 * 32 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 29 + seed * 71 + ((i * i) % 17)) % 256;
  return new RawImage(data, 32, 32, 3);
}

interface ScorerInside {
  textEmbeds: Map<string, Float32Array>;
  imageEmbeds: Map<string, Float32Array>;
  imageProcessor: (image: RawImage) => Promise<{ pixel_values: Tensor }>;
}

let scorer: ClipScorer;
let inside: ScorerInside;
let model: TfjsClip;

beforeAll(async () => {
  await useTestBackend();
  scorer = await loadClipScorer(nodeFolderSource(DIR), { device: 'cpu' });
  inside = scorer as unknown as ScorerInside;
  model = new TfjsClip(config, weights());
});

afterAll(() => {
  scorer.dispose();
  model.dispose();
});

async function pixelsOf(img: RawImage): Promise<tf.Tensor4D> {
  const { pixel_values } = await inside.imageProcessor(img);
  return tf.tensor4d(pixel_values.data as Float32Array, pixel_values.dims as [number, number, number, number]);
}

/** Right-padded id rows as the scorer builds them (pad = end-of-text). */
function padded(sentences: string[]): number[][] {
  const rows = sentences.map((s) => scorer.textIds(s).ids);
  const T = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...Array<number>(T - r.length).fill(EOS)]);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return a.length === b.length ? worst : Infinity;
}

/** The loss of `clipContrastiveLoss` from the model's embeddings, by its definition, in float64. */
async function referenceLoss(m: TfjsClip, batch: ContrastiveBatch): Promise<number> {
  const unit = (rows: number[][]) => rows.map((r) => r.map((x) => x / Math.hypot(...r)));
  const ie = m.imageEmbeds(batch.pixels);
  const te = m.textEmbeds(batch.texts);
  const img = unit((await ie.array()) as number[][]);
  const txt = unit((await te.array()) as number[][]);
  const scale = Math.exp((await m.params.get('logit_scale')!.data())[0]);
  tf.dispose([ie, te]);
  const logit = (b: number, k: number) => scale * img[b].reduce((s, x, i) => s + x * txt[k][i], 0);
  // −log(e^target / Σ e^x over the kept candidates)
  const ce = (target: number, kept: number[]) => -target + Math.log(kept.reduce((s, x) => s + Math.exp(x), 0));
  const B = img.length;
  const K = txt.length;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const i2t = batch.positives.map(({ image, text }) =>
    ce(logit(image, text), [...Array(K).keys()].filter((k) => k === text || !batch.truth[image][k]).map((k) => logit(image, k))),
  );
  const t2i = batch.positives.map(({ image, text }) =>
    ce(logit(image, text), [...Array(B).keys()].filter((j) => j === image || !batch.truth[j][text]).map((j) => logit(j, text))),
  );
  const hard = batch.hard.map(({ image, truth, falsehood }) => ce(logit(image, truth), [logit(image, truth), logit(image, falsehood)]));
  // uniformity: log of the mean over sentence pairs i ≠ j of exp(−2‖tᵢ − tⱼ‖²)
  const close = txt.flatMap((a, i) => txt.flatMap((b, j) => (i === j ? [] : [Math.exp(-2 * a.reduce((s, x, d) => s + (x - b[d]) ** 2, 0))])));
  return (mean(i2t) + mean(t2i)) / 2 + (batch.hardWeight ?? 1) * mean(hard) + (batch.uniformityWeight ?? 0) * Math.log(mean(close));
}

describe('TF.js CLIP', () => {
  it("gives the ONNX scorer's text and image embeddings for the tiny CLIP within 1e-4, a padded batch included", async () => {
    const imgs = [image32(1), image32(2)];
    for (const img of imgs) await scorer.similarity(img, SENTENCES);
    const text = model.textEmbeds(padded(SENTENCES));
    const textRows = (await text.array()) as number[][];
    text.dispose();
    SENTENCES.forEach((s, i) => expect({ s, diff: maxDiff(textRows[i], inside.textEmbeds.get(s)!) < 1e-4 }).toEqual({ s, diff: true }));
    const pixels = tf.concat(await Promise.all(imgs.map(pixelsOf)));
    const image = model.imageEmbeds(pixels);
    const imageRows = (await image.array()) as number[][];
    tf.dispose([pixels, image]);
    const onnxImages = [...inside.imageEmbeds.values()];
    expect(onnxImages).toHaveLength(2);
    imageRows.forEach((row, i) => expect(maxDiff(row, onnxImages[i])).toBeLessThan(1e-4));
    // The embeddings tell the inputs apart, so agreement means something.
    expect(maxDiff(textRows[0], textRows[1])).toBeGreaterThan(1e-2);
    expect(maxDiff(imageRows[0], imageRows[1])).toBeGreaterThan(1e-2);
  });

  it('pools at the first end-of-text token, or at the largest id under the legacy eos_token_id 2', () => {
    expect(clipPooledPositions([[5, 9, 7, 9, 9]], 9)).toEqual([1]);
    expect(clipPooledPositions([[5, 1, 8, 3, 2]], 2)).toEqual([2]);
    expect(() => clipPooledPositions([[5, 1]], 9)).toThrow(/no end-of-text token/);
  });

  it('uniformity is the log mean of exp(4 cos − 4) over distinct pairs: lowest for rows spread apart', async () => {
    // three unit rows: x, x, and y ⟂ x: pairs (0,1) cos 1, (0,2) and (1,2) cos 0, each twice
    const x = tf.tensor2d([1, 0, 1, 0, 0, 1], [3, 2]);
    const u = uniformity(x);
    expect((await u.data())[0]).toBeCloseTo(Math.log((2 * 1 + 4 * Math.exp(-4)) / 6), 6);
    // three rows 120° apart: every cos −0.5, exp(−6)
    const spread = uniformity(tf.tensor2d([1, 0, -0.5, Math.sqrt(3) / 2, -0.5, -Math.sqrt(3) / 2], [3, 2]));
    expect((await spread.data())[0]).toBeCloseTo(-6, 4);
    tf.dispose([x, u, spread]);
  });

  it('keeps the Hugging Face names and shapes: its weight map is the one it was built from', async () => {
    const given = weights();
    const back = await model.weightMap();
    expect([...back.keys()].sort()).toEqual([...given.keys()].sort());
    for (const [name, w] of given) expect({ name, diff: maxDiff(back.get(name)!.data, w.data) }).toEqual({ name, diff: 0 });
  });

  it('a contrastive step with hard negatives reaches every weight, uses only kernels WASM has, and lowers the loss', async () => {
    const fresh = new TfjsClip(config, weights());
    const pixels = tf.concat(await Promise.all([1, 2, 3].map((s) => pixelsOf(image32(s)))));
    const texts = padded([...SENTENCES, 'The background is white.', 'There is a dog.']);
    // Images 0–2 own sentences 0–2; sentence 3 is true of image 1 too, 4 of none.
    const truth = [0, 1, 2].map((b) => [0, 1, 2, 3, 4].map((k) => k === b || (b === 1 && k === 3)));
    const positives = [
      { image: 0, text: 0 },
      { image: 1, text: 1 },
      { image: 2, text: 2 },
      { image: 1, text: 3 },
    ];
    const hard = [{ image: 0, truth: 0, falsehood: 4 }, { image: 1, truth: 3, falsehood: 2 }];
    const batch = { pixels, texts, truth, positives, hard, hardWeight: 2, uniformityWeight: 0.5 };
    const before = clipContrastiveLoss(fresh, batch);
    const lossBefore = (await before.data())[0];
    before.dispose();
    expect(lossBefore).toBeCloseTo(await referenceLoss(fresh, batch), 4);
    // the weights count: without them the loss is another
    const plain = clipContrastiveLoss(fresh, { pixels, texts, truth, positives, hard });
    expect(Math.abs((await plain.data())[0] - lossBefore)).toBeGreaterThan(1e-2);
    expect((await plain.data())[0]).toBeCloseTo(await referenceLoss(fresh, { pixels, texts, truth, positives, hard }), 4);
    plain.dispose();
    const adam = new Adam(fresh.variables);
    const { kernelNames } = await tf.profile(async () => {
      const { value, grads } = tf.variableGrads(() => clipContrastiveLoss(fresh, batch), fresh.variables);
      const list = fresh.variables.map((v) => grads[v.name]);
      const reached = await Promise.all(list.map(async (g) => ((await g.data()) as Float32Array).some((x) => x !== 0)));
      [...fresh.params.keys()].forEach((name, i) => expect({ name, reached: reached[i] }).toEqual({ name, reached: true }));
      adam.apply(list, 1e-2);
      tf.dispose([value, ...list]);
    });
    const used = [...new Set(kernelNames)].filter((k) => tf.getKernel(k, tf.getBackend()) !== undefined);
    expect(used).toEqual(expect.arrayContaining(['BatchMatMul', 'GatherV2', 'ScatterNd', 'Sigmoid', 'Softmax']));
    expect(used.filter((k) => tf.getKernel(k, 'wasm') === undefined)).toEqual([]);
    const after = clipContrastiveLoss(fresh, batch);
    expect((await after.data())[0]).toBeLessThan(lossBefore);
    tf.dispose([after, pixels]);
    adam.dispose();
    fresh.dispose();
  });
});
