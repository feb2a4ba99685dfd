import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { pixelShuffle } from './connector';
import { download, maxAbsDiff, pixels, tinyIdefics3Config, useTestBackend } from './fixtures.testutil';
import { refIdefics3, refPixelShuffle, refSiglip } from './reference.testutil';
import { patchPositionIds } from './siglip';
import { loadIdefics3Model, randomWeights } from './weights';

beforeAll(useTestBackend);

const config = tinyIdefics3Config();
const weights = randomWeights(config, 11, { std: 0.3, normStd: 0.1 });
const IMG = config.imageTokenId; // 49
const V = config.text.vocabSize;

describe('pixel shuffle', () => {
  it('matches a hand-computed 4×4 grid, scale 2, two features per patch', async () => {
    // patch p (row-major on the 4×4 grid) has features [10p, 10p+1]
    const x = tf.tensor3d(
      Float32Array.from({ length: 16 * 2 }, (_, i) => 10 * Math.floor(i / 2) + (i % 2)),
      [1, 16, 2],
    );
    const y = pixelShuffle(x, 2);
    expect(y.shape).toEqual([1, 4, 8]);
    // Worked by hand through view(1,4,2,4) → permute → reshape(1,2,2,8) → permute → reshape(1,4,8):
    // output token (i,j) is the 2×2 block of patches {4(2i)+2j, +1, 4(2i+1)+2j, +1}, features in order.
    expect([...(await download(y))]).toEqual([
      0, 1, 10, 11, 40, 41, 50, 51, // token 0: patches 0, 1, 4, 5
      20, 21, 30, 31, 60, 61, 70, 71, // token 1: patches 2, 3, 6, 7
      80, 81, 90, 91, 120, 121, 130, 131, // token 2: patches 8, 9, 12, 13
      100, 101, 110, 111, 140, 141, 150, 151, // token 3: patches 10, 11, 14, 15
    ]);
    tf.dispose([x, y]);
  });

  it('agrees with the block formula on a 6×6 grid with scale 3', async () => {
    const D = 3;
    const data = Float32Array.from({ length: 36 * D }, (_, i) => i);
    const x = tf.tensor3d(data, [1, 36, D]);
    const y = pixelShuffle(x, 3);
    const rows = Array.from({ length: 36 }, (_, p) => Float64Array.from(data.subarray(p * D, (p + 1) * D)));
    expect([...(await download(y))]).toEqual(refPixelShuffle(rows, 3).flatMap((r) => [...r]));
    tf.dispose([x, y]);
  });
});

describe('SigLIP vision tower', () => {
  it('full-size position ids are 0…N−1; a smaller image is bucketed onto the grid', () => {
    expect([...patchPositionIds(4, 4, 4)]).toEqual([...Array(16).keys()]);
    // 2×2 patches on a 4-per-side grid: fractional coords 0, 0.5 → buckets 0, 2
    expect([...patchPositionIds(2, 2, 4)]).toEqual([0, 2, 8, 10]);
  });

  it('gives [N, (H/P)², D] and matches a plain-JS reference forward', async () => {
    const model = loadIdefics3Model(config, weights);
    const px = pixels(2, 3, 16, 16, 5);
    const pv = tf.tensor4d(px, [2, 3, 16, 16]);
    const out = model.vision.forward(pv);
    expect(out.shape).toEqual([2, 16, 12]);
    const got = await download(out);
    for (let n = 0; n < 2; n++) {
      const ref = refSiglip(config.vision, weights, px.subarray(n * 768, (n + 1) * 768), 16, 16);
      expect(maxAbsDiff(got.subarray(n * 16 * 12, (n + 1) * 16 * 12), ref.flatMap((r) => [...r]))).toBeLessThan(1e-4);
    }
    tf.dispose([pv, out]);
    model.dispose();
  });

  it('visionFeatures has [N, image_seq_len, D_text]', () => {
    const model = loadIdefics3Model(config, weights);
    const pv = tf.tensor4d(pixels(3, 3, 16, 16, 6), [3, 3, 16, 16]);
    const f = model.visionFeatures(pv);
    expect(f.shape).toEqual([3, 4, 24]);
    expect(model.imageSeqLen).toBe(4);
    tf.dispose([pv, f]);
    model.dispose();
  });
});

describe('Idefics3Model', () => {
  it('places image features at the image-token positions, in order across the batch', async () => {
    const model = loadIdefics3Model(config, weights);
    const feats = tf.tensor3d(
      Float32Array.from({ length: 2 * 4 * 24 }, (_, i) => 1000 + i),
      [2, 4, 24],
    );
    const ids = [
      [1, IMG, IMG, 5, IMG, 7],
      [IMG, 2, IMG, IMG, IMG, IMG],
    ];
    const e = await download(model.embedInputs(ids, feats));
    const table = weights.get('model.text_model.embed_tokens.weight')!.data;
    let k = 0;
    ids.forEach((row, b) =>
      row.forEach((id, t) => {
        const got = e.subarray((b * 6 + t) * 24, (b * 6 + t + 1) * 24);
        let exp: Float32Array;
        if (id === IMG) {
          const row = k++;
          exp = Float32Array.from({ length: 24 }, (_, d) => 1000 + row * 24 + d);
        } else {
          exp = table.subarray(id * 24, (id + 1) * 24);
        }
        expect([...got]).toEqual([...exp]);
      }),
    );
    expect(k).toBe(8);
    feats.dispose();
    model.dispose();
  });

  it('the whole model matches a plain-JS reference (vision → shuffle → proj → merge → decoder)', async () => {
    const model = loadIdefics3Model(config, weights);
    const px = pixels(1, 3, 16, 16, 9);
    const ids = [2, 3, IMG, IMG, IMG, IMG, 4, 17, 23];
    const pv = tf.tensor4d(px, [1, 3, 16, 16]);
    const logits = model.forward({ inputIds: [ids], pixelValues: pv });
    expect(logits.shape).toEqual([1, ids.length, V]);
    const ref = refIdefics3(config, weights, ids, [px]);
    expect(maxAbsDiff(await download(logits), ref.flatMap((r) => [...r]))).toBeLessThan(1e-4);
    tf.dispose([pv, logits]);
    model.dispose();
  });

  it('image features change the logits after the image, not before it', async () => {
    const model = loadIdefics3Model(config, weights);
    const ids = [[2, 3, IMG, IMG, IMG, IMG, 4, 17]];
    const pa = tf.tensor4d(pixels(1, 3, 16, 16, 1), [1, 3, 16, 16]);
    const pb = tf.tensor4d(pixels(1, 3, 16, 16, 2), [1, 3, 16, 16]);
    const la = await download(model.forward({ inputIds: ids, pixelValues: pa }));
    const lb = await download(model.forward({ inputIds: ids, pixelValues: pb }));
    expect(maxAbsDiff(la.subarray(0, 2 * V), lb.subarray(0, 2 * V))).toBe(0);
    expect(maxAbsDiff(la.subarray(6 * V), lb.subarray(6 * V))).toBeGreaterThan(1e-3);
    tf.dispose([pa, pb]);
    model.dispose();
  });

  it('KV cache with an image prompt equals the full recomputation; generate matches greedy argmax', async () => {
    const model = loadIdefics3Model(config, weights);
    const pv = tf.tensor4d(pixels(1, 3, 16, 16, 3), [1, 3, 16, 16]);
    const feats = model.visionFeatures(pv);
    const ids = [2, IMG, IMG, IMG, IMG, 4, 17, 23, 8];
    const full = await download(model.forward({ inputIds: [ids], imageFeatures: feats }));
    const { logits, cache } = model.prefill({ inputIds: [ids.slice(0, 6)], imageFeatures: feats });
    const steps = [...(await download(logits))];
    logits.dispose();
    for (let t = 6; t < ids.length; t++) {
      const l = model.step(cache, [[ids[t]]]);
      steps.push(...(await download(l)));
      l.dispose();
    }
    cache.dispose();
    expect(maxAbsDiff(steps, full)).toBeLessThan(1e-4);

    const prompt = ids.slice(0, 6);
    const gen = await model.generate({ inputIds: prompt, imageFeatures: feats, maxNewTokens: 4 });
    const seq = prompt.slice();
    for (let i = 0; i < 4; i++) {
      const l = model.forward({ inputIds: [seq], imageFeatures: feats });
      const last = (await download(l)).subarray((seq.length - 1) * V);
      l.dispose();
      let best = 0;
      for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
      seq.push(best);
    }
    expect(gen).toEqual({ ids: seq.slice(6), stop: 'length' });
    tf.dispose([pv, feats]);
    model.dispose();
  });

  it('a right-padded multimodal batch equals its members alone', async () => {
    const model = loadIdefics3Model(config, weights);
    const pv = tf.tensor4d(pixels(2, 3, 16, 16, 4), [2, 3, 16, 16]);
    const feats = model.visionFeatures(pv);
    const a = [2, IMG, IMG, IMG, IMG, 5, 6, 7];
    const b = [3, IMG, IMG, IMG, IMG, 9];
    const lp = await download(
      model.tokenLogprobs({ inputIds: [a, [...b, 0, 0]], attentionMask: [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0, 0]], imageFeatures: feats }),
    );
    const fa = feats.slice([0, 0, 0], [1, 4, 24]);
    const fb = feats.slice([1, 0, 0], [1, 4, 24]);
    const la = await download(model.tokenLogprobs({ inputIds: [a], imageFeatures: fa }));
    const lb = await download(model.tokenLogprobs({ inputIds: [b], imageFeatures: fb }));
    expect(maxAbsDiff(lp.subarray(0, 7), la)).toBeLessThan(1e-4);
    expect(maxAbsDiff(lp.subarray(7, 12), lb)).toBeLessThan(1e-4);
    tf.dispose([pv, feats, fa, fb]);
    model.dispose();
  });

  it('rejects a mismatch between image tokens and image features', () => {
    const model = loadIdefics3Model(config, weights);
    const feats = tf.zeros([1, 4, 24]) as tf.Tensor3D;
    expect(() => model.forward({ inputIds: [[1, IMG, IMG, 2]], imageFeatures: feats })).toThrow(
      /2 image tokens \(id 49\) but 4 image feature rows/,
    );
    expect(() => model.forward({ inputIds: [[1, IMG]] })).toThrow(/1 image tokens .* but 0 image feature rows/);
    feats.dispose();
    model.dispose();
  });

  it('leaks no tensors over 20 forward / log-prob calls', async () => {
    const model = loadIdefics3Model(config, weights);
    const pv = tf.tensor4d(pixels(1, 3, 16, 16, 3), [1, 3, 16, 16]);
    const ids = [[2, IMG, IMG, IMG, IMG, 4, 17]];
    const warm = model.forward({ inputIds: ids, pixelValues: pv });
    warm.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const l = model.forward({ inputIds: ids, pixelValues: pv, lora: i % 2 === 0 });
      const lp = model.tokenLogprobs({ inputIds: ids, pixelValues: pv });
      await l.data();
      tf.dispose([l, lp]);
    }
    const { cache, logits } = model.prefill({ inputIds: ids, pixelValues: pv });
    model.step(cache, [[3]]).dispose();
    tf.dispose([cache.keys, cache.values, logits]);
    await model.generate({ inputIds: ids[0], pixelValues: pv, maxNewTokens: 3 });
    expect(tf.memory().numTensors).toBe(before);
    pv.dispose();
    model.dispose();
  });
});
