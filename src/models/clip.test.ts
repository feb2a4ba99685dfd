import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage, type Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightsAsStored } from '../../scripts/tiny-models/common';
import { FIXTURE_MODELS, nodeFolderSource } from '../../scripts/lib/nodeModelSource';
import { clipTextRef, clipVisionRef, type ClipRefConfig } from '../../tests/onnx/reference';
import { clipCutNotice, loadClipScorer, TEXT_BATCH, type ClipScorer } from './clip';

const DIR = join(FIXTURE_MODELS, 'tiny-clip');
const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as ClipRefConfig & {
  text_config: { max_position_embeddings: number; vocab_size: number };
};
const weights = weightsAsStored(new Uint8Array(readFileSync(join(DIR, 'model.safetensors'))), 'model.safetensors');
const pre = JSON.parse(readFileSync(join(DIR, 'preprocessor_config.json'), 'utf8')) as { image_mean: number[]; image_std: number[] };
const V = config.text_config.vocab_size;
const BOS = V - 2;
const EOS = V - 1;

/** A 32×32 RGB image (CLIP's input size: resize and crop leave it as it is). */
function image32(seed: number): RawImage {
  const data = new Uint8ClampedArray(32 * 32 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 101 + ((i * i) % 13)) % 256;
  return new RawImage(data, 32, 32, 3);
}

/** CLIP preprocessing by hand for a 32×32 image: rescale, normalise, channels first. */
function pixelValues(img: RawImage): Float32Array {
  const out = new Float32Array(3 * 32 * 32);
  const d = img.data as Uint8ClampedArray;
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 32 * 32; p++) out[c * 1024 + p] = (d[p * 3 + c] / 255 - pre.image_mean[c]) / pre.image_std[c];
  }
  return out;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

const SHORT = ['A red circle.', 'Two cats sit on the table.'];
const LONG = 'The image shows a red circle on the left and a blue square on the right, above a green line.';

let scorer: ClipScorer;
let tmp: string;

/** Counts runs and batch sizes of the scorer's text and vision models. */
function countCalls(s: ClipScorer) {
  const inner = s as unknown as { textModel: { forward: (x: Record<string, Tensor>) => Promise<unknown> }; visionModel: { forward: (x: unknown) => Promise<unknown> } };
  const counts = { text: [] as number[], vision: 0 };
  const text = inner.textModel.forward.bind(inner.textModel);
  const vision = inner.visionModel.forward.bind(inner.visionModel);
  inner.textModel.forward = (x) => {
    counts.text.push(x.input_ids.dims[0]);
    return text(x);
  };
  inner.visionModel.forward = (x) => {
    counts.vision++;
    return vision(x);
  };
  return counts;
}

beforeAll(async () => {
  scorer = await loadClipScorer(nodeFolderSource(DIR), { device: 'cpu' });
  tmp = mkdtempSync(join(tmpdir(), 'clip-'));
});

afterAll(() => {
  scorer.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe('CLIP scorer on the tiny CLIP', () => {
  it('reads the text window from the model and runs on the CPU', () => {
    expect(scorer.contextLength).toBe(16);
    expect(config.text_config.max_position_embeddings).toBe(16);
    expect(scorer.device).toBe('cpu');
    expect(scorer.fallbackReason).toBeNull();
  });

  it('wraps each sentence in start and end tokens, lower-cases it, and truncates a long one keeping the end token', () => {
    const short = scorer.textIds(' A red circle. ');
    expect(short.truncated).toBe(false);
    expect(short.ids[0]).toBe(BOS);
    expect(short.ids[short.ids.length - 1]).toBe(EOS);
    expect(short.ids).toEqual(scorer.textIds('a red circle.').ids);
    const long = scorer.textIds(LONG);
    expect(long.truncated).toBe(true);
    expect(long.ids).toHaveLength(16);
    expect(long.ids[0]).toBe(BOS);
    expect(long.ids[15]).toBe(EOS);
    expect(long.ids.filter((id) => id === EOS)).toHaveLength(1);
    // The kept tokens are the beginning of the sentence's own tokens.
    const words = 'the image shows a red circle on the left';
    const prefix = scorer.textIds(words).ids.slice(1, -1);
    expect(long.ids.slice(1, 1 + prefix.length)).toEqual(prefix);
  });

  it('equals cos(text_embeds, image_embeds) of a float64 CLIP forward from model.safetensors, all sentences in one batch', async () => {
    const fresh = await loadClipScorer(nodeFolderSource(DIR), { device: 'cpu' });
    const counts = countCalls(fresh);
    const img = image32(1);
    const sentences = [...SHORT, LONG];
    const got = await fresh.similarity(img, sentences);
    expect(counts.text).toEqual([3]);
    expect(counts.vision).toBe(1);
    const imageEmbeds = clipVisionRef(config, weights, pixelValues(img)).imageEmbeds;
    const expected = sentences.map((s) => cosine(clipTextRef(config, weights, fresh.textIds(s).ids).textEmbeds, imageEmbeds));
    got.forEach((g, i) => expect(Math.abs(g.similarity - expected[i]), sentences[i]).toBeLessThan(1e-5));
    expect(got.map((g) => g.truncated)).toEqual([false, false, true]);
    // Not all the same: the sentences are told apart.
    expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-2);
    fresh.dispose();
  });

  it('caches by image and sentence: a second call runs no model; new sentences or a new image run only what is new', async () => {
    const fresh = await loadClipScorer(nodeFolderSource(DIR), { device: 'cpu' });
    const counts = countCalls(fresh);
    const first = await fresh.similarity(image32(2), SHORT);
    expect(counts).toEqual({ text: [2], vision: 1 });
    const again = await fresh.similarity(image32(2), SHORT);
    expect(again).toEqual(first);
    expect(counts).toEqual({ text: [2], vision: 1 });
    expect(fresh.calls).toEqual({ text: 1, image: 1 });
    // One new sentence: one text run of batch 1, no image run.
    const more = await fresh.similarity(image32(2), [SHORT[1], LONG]);
    expect(more[0]).toEqual(first[1]);
    expect(counts).toEqual({ text: [2, 1], vision: 1 });
    // A new image with known sentences: one image run, no text run, other numbers.
    const other = await fresh.similarity(image32(3), SHORT);
    expect(counts).toEqual({ text: [2, 1], vision: 2 });
    expect(other[0].similarity).not.toBeCloseTo(first[0].similarity, 6);
    fresh.dispose();
  });

  it('a sentence gets the same score alone as in a padded batch', async () => {
    const img = image32(4);
    const batch = await scorer.similarity(img, [SHORT[0], LONG, SHORT[1]]);
    const alone = await loadClipScorer(nodeFolderSource(DIR), { device: 'cpu' });
    for (const [i, s] of [SHORT[0], LONG, SHORT[1]].entries()) {
      const [one] = await alone.similarity(img, [s]);
      expect(one.similarity).toBeCloseTo(batch[i].similarity, 6);
    }
    alone.dispose();
  });
});

describe('CLIP on long input and after a failure', () => {
  it('a response of many sentences runs in bounded batches, and the long ones are named', async () => {
    const fresh = await loadClipScorer(nodeFolderSource(DIR), { device: 'cpu' });
    const counts = countCalls(fresh);
    const sentences = Array.from({ length: 2 * TEXT_BATCH + 5 }, (_, i) => (i % 50 === 7 ? `${LONG} ${i}` : `Sentence ${i}.`));
    const got = await fresh.similarity(image32(5), sentences);
    expect(counts.text).toEqual([TEXT_BATCH, TEXT_BATCH, 5]);
    expect(got.map((g, i) => (g.truncated ? i + 1 : 0)).filter(Boolean)).toEqual([8, 58, 108]);
    // Each batch scores as the whole would: a sentence alone gets its score from the batched run.
    const [alone] = await scorer.similarity(image32(5), [sentences[TEXT_BATCH + 3]]);
    expect(alone.similarity).toBeCloseTo(got[TEXT_BATCH + 3].similarity, 6);
    expect(clipCutNotice('chosen response', got, fresh.contextLength)).toBe(
      "chosen response: sentences 8, 58, 108 are longer than CLIP's text window of 16 tokens; only the beginning was compared with the image.",
    );
    expect(clipCutNotice('rejected response', got.slice(0, 5), fresh.contextLength)).toBeNull();
    fresh.dispose();
  });

  it('after a run fails on broken sessions, both are rebuilt and the next call gives the right numbers', async () => {
    const fresh = await loadClipScorer(nodeFolderSource(DIR), { device: 'cpu' });
    const expected = await scorer.similarity(image32(6), SHORT);
    // Release the sessions under the scorer, as a failed run can leave them.
    const inner = fresh as unknown as { textModel: { dispose(): Promise<unknown> }; visionModel: { dispose(): Promise<unknown> } };
    await Promise.all([inner.textModel.dispose(), inner.visionModel.dispose()]);
    await expect(fresh.similarity(image32(6), SHORT)).rejects.toThrow(/tiny-clip: CLIP failed .*its sessions were rebuilt/);
    const after = await fresh.similarity(image32(6), SHORT);
    after.forEach((a, i) => expect(a.similarity).toBeCloseTo(expected[i].similarity, 6));
    fresh.dispose();
  });
});

describe('CLIP loading errors', () => {
  function brokenCopy(name: string, breakIt: (dir: string) => void): string {
    const dir = join(tmp, name, 'tiny-clip');
    cpSync(DIR, dir, { recursive: true });
    breakIt(dir);
    return dir;
  }

  it('names a missing ONNX file', async () => {
    const dir = brokenCopy('missing', (d) => unlinkSync(join(d, 'onnx', 'vision_model.onnx')));
    await expect(loadClipScorer(nodeFolderSource(dir), { device: 'cpu' })).rejects.toThrow(/folder tiny-clip has no file onnx\/vision_model\.onnx/);
  });

  it('names a truncated ONNX file', async () => {
    const dir = brokenCopy('truncated', (d) => {
      const f = join(d, 'onnx', 'text_model.onnx');
      writeFileSync(f, readFileSync(f).subarray(0, 5000));
    });
    await expect(loadClipScorer(nodeFolderSource(dir), { device: 'cpu' })).rejects.toThrow(
      /folder tiny-clip: onnx\/text_model\.onnx is not a usable ONNX model \(the file is truncated/,
    );
  });

  it('refuses a model that is not a CLIP', async () => {
    await expect(loadClipScorer(nodeFolderSource(join(FIXTURE_MODELS, 'tiny-smolvlm')), { device: 'cpu' })).rejects.toThrow(
      /model type "idefics3" is not a CLIP model/,
    );
  });
});
