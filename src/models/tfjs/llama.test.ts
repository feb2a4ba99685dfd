import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { download, maxAbsDiff, tinyLlamaConfig, useTestBackend } from './fixtures.testutil';
import { applyRotary, rmsNorm, rotaryCosSin } from './llama';
import { sample } from '../sampling';
import { Prng } from '../prng';
import { llamaFamily } from '../families/llama';
import { refLlama, refLogSoftmax, refRmsNorm, refRope } from './reference.testutil';
import { loadLlamaModel, randomWeights } from './weights';

beforeAll(useTestBackend);

const V = 50;

describe('Llama building blocks', () => {
  it('RoPE matches a plain-JS computation of the HF rotate_half formula', async () => {
    const headDim = 6;
    const theta = 100;
    const positions = [
      [0, 1, 5, 17],
      [3, 2, 40, 9],
    ];
    const [B, H, T] = [2, 3, 4];
    const xData = Float32Array.from({ length: B * H * T * headDim }, (_, i) => Math.sin(i * 0.37) * 2);
    const x = tf.tensor4d(xData, [B, H, T, headDim]);
    const { cos, sin } = rotaryCosSin(positions, headDim, theta);
    const y = applyRotary(x, cos, sin);
    const got = await download(y);
    const expected: number[] = [];
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < T; t++) {
          const off = ((b * H + h) * T + t) * headDim;
          expected.push(...refRope(xData.subarray(off, off + headDim), positions[b][t], theta));
        }
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
    // position 0 is the identity, a non-zero position is not
    expect(maxAbsDiff(got.subarray(0, headDim), xData.subarray(0, headDim))).toBeLessThan(1e-7);
    expect(maxAbsDiff(got.subarray(headDim, 2 * headDim), xData.subarray(headDim, 2 * headDim))).toBeGreaterThan(1e-2);
    tf.dispose([x, cos, sin, y]);
  });

  it('RMSNorm matches x / sqrt(mean(x²)+eps) · w', async () => {
    const xData = Float32Array.from({ length: 2 * 8 }, (_, i) => (i % 5) - 2.5 + i * 0.1);
    const wData = Float32Array.from({ length: 8 }, (_, i) => 0.5 + i * 0.1);
    const x = tf.tensor2d(xData, [2, 8]);
    const wt = tf.tensor1d(wData);
    const y = rmsNorm(x, wt, 1e-5);
    const got = await download(y);
    const exp = [
      ...refRmsNorm(Float64Array.from(xData.subarray(0, 8)), wData, 1e-5),
      ...refRmsNorm(Float64Array.from(xData.subarray(8)), wData, 1e-5),
    ];
    expect(maxAbsDiff(got, exp)).toBeLessThan(1e-5);
    tf.dispose([x, wt, y]);
  });
});

describe('LlamaModel', () => {
  const config = tinyLlamaConfig(false);
  const weights = randomWeights(config, 7, { std: 0.3, normStd: 0.1 });
  const ids = [3, 17, 42, 8, 8, 1, 33, 20];

  it('matches a plain-JS reference forward (GQA, RoPE, SwiGLU, untied head)', async () => {
    const model = loadLlamaModel(config, weights);
    const logits = model.forward({ inputIds: [ids] });
    expect(logits.shape).toEqual([1, ids.length, V]);
    const ref = refLlama(config.text, weights, llamaFamily.textPrefix, ids);
    expect(maxAbsDiff(await download(logits), ref.flatMap((r) => [...r]))).toBeLessThan(1e-4);
    logits.dispose();
    model.dispose();
  });

  it('uses embed_tokens as the LM head when tied (and needs no lm_head.weight)', async () => {
    const tied = tinyLlamaConfig(true);
    const w = randomWeights(tied, 8, { std: 0.3, normStd: 0.1 });
    expect(w.has('lm_head.weight')).toBe(false);
    const model = loadLlamaModel(tied, w);
    const logits = model.forward({ inputIds: [ids] });
    const ref = refLlama(tied.text, w, llamaFamily.textPrefix, ids);
    expect(maxAbsDiff(await download(logits), ref.flatMap((r) => [...r]))).toBeLessThan(1e-4);
    logits.dispose();
    model.dispose();
  });

  it('is causal: changing a later token leaves earlier log-probs unchanged', async () => {
    const model = loadLlamaModel(config, weights);
    const changed = ids.slice();
    changed[5] = 44;
    const a = model.tokenLogprobs({ inputIds: [ids] });
    const b = model.tokenLogprobs({ inputIds: [changed] });
    const da = await download(a);
    const db = await download(b);
    // log p(token t+1 | ≤ t) for t+1 ≤ 4 only sees tokens 0..4
    expect(maxAbsDiff(da.subarray(0, 4), db.subarray(0, 4))).toBe(0);
    // the prediction of token 5 and everything after it changes
    expect(maxAbsDiff(da.subarray(4), db.subarray(4))).toBeGreaterThan(1e-3);
    tf.dispose([a, b]);
    model.dispose();
  });

  it('KV-cache step-by-step logits equal the full recomputation', async () => {
    const model = loadLlamaModel(config, weights);
    const full = await download(model.forward({ inputIds: [ids] }));
    const { logits, cache } = model.prefill({ inputIds: [ids.slice(0, 3)] });
    const steps: number[] = [...(await download(logits))];
    logits.dispose();
    for (let t = 3; t < ids.length; t++) {
      const l = model.step(cache, [[ids[t]]]);
      expect(l.shape).toEqual([1, 1, V]);
      steps.push(...(await download(l)));
      l.dispose();
    }
    expect(cache.length).toBe(ids.length);
    expect(maxAbsDiff(steps, full)).toBeLessThan(1e-4);
    cache.dispose();
    model.dispose();
  });

  it('a right-padded batch with an attention mask equals each member run alone', async () => {
    const model = loadLlamaModel(config, weights);
    const a = [5, 9, 11, 2, 30, 31];
    const b = [7, 1, 4];
    const pad = 0;
    const batch = [a, [...b, pad, pad, pad]];
    const mask = [
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0],
    ];
    const lb = await download(model.forward({ inputIds: batch, attentionMask: mask }));
    const la = await download(model.forward({ inputIds: [a] }));
    const lbAlone = await download(model.forward({ inputIds: [b] }));
    expect(maxAbsDiff(lb.subarray(0, 6 * V), la)).toBeLessThan(1e-4);
    expect(maxAbsDiff(lb.subarray(6 * V, 6 * V + 3 * V), lbAlone)).toBeLessThan(1e-4);

    const lpB = model.tokenLogprobs({ inputIds: batch, attentionMask: mask });
    const lpAlone = model.tokenLogprobs({ inputIds: [b] });
    const gotB = await download(lpB);
    expect(maxAbsDiff(gotB.subarray(5, 7), await download(lpAlone))).toBeLessThan(1e-4);
    expect([...gotB.subarray(7, 10)]).toEqual([0, 0, 0]); // padding targets contribute nothing
    tf.dispose([lpB, lpAlone]);
    model.dispose();
  });

  it('a left-padded member (positions from the mask) also equals the sequence alone', async () => {
    const model = loadLlamaModel(config, weights);
    const b = [7, 1, 4, 22];
    const lb = await download(model.forward({ inputIds: [[0, 0, ...b]], attentionMask: [[0, 0, 1, 1, 1, 1]] }));
    const alone = await download(model.forward({ inputIds: [b] }));
    expect(maxAbsDiff(lb.subarray(2 * V), alone)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('token log-probs are the log-softmax of the logits at the next token; their sum is the sequence log-prob', async () => {
    const model = loadLlamaModel(config, weights);
    const logits = await download(model.forward({ inputIds: [ids] }));
    const lp = model.tokenLogprobs({ inputIds: [ids] });
    expect(lp.shape).toEqual([1, ids.length - 1]);
    const got = await download(lp);
    const expected = ids.slice(1).map((next, t) => refLogSoftmax(logits.subarray(t * V, (t + 1) * V))[next]);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);

    // sequence log-prob by the chain rule, decoding token by token through the KV cache
    const { logits: first, cache } = model.prefill({ inputIds: [ids.slice(0, 1)] });
    let seq = refLogSoftmax(await download(first))[ids[1]];
    first.dispose();
    for (let t = 1; t < ids.length - 1; t++) {
      const l = model.step(cache, [[ids[t]]]);
      seq += refLogSoftmax(await download(l))[ids[t + 1]];
      l.dispose();
    }
    cache.dispose();
    const sum = got.reduce((s, v) => s + v, 0);
    expect(Math.abs(sum - seq)).toBeLessThan(1e-4);
    lp.dispose();
    model.dispose();
  });

  it('greedy generate equals repeated argmax of full forwards', async () => {
    const model = loadLlamaModel(config, weights);
    const prompt = [3, 17, 42];
    const out = await model.generate(prompt, { maxNewTokens: 6 });
    const naive: number[] = [];
    const seq = prompt.slice();
    for (let i = 0; i < 6; i++) {
      const l = model.forward({ inputIds: [seq] });
      const last = (await download(l)).subarray((seq.length - 1) * V);
      l.dispose();
      let best = 0;
      for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
      naive.push(best);
      seq.push(best);
    }
    expect(out).toEqual({ ids: naive, stop: 'length' });
    const streamed: number[] = [];
    const stopped = await model.generate(prompt, { maxNewTokens: 6, eosTokenId: naive[1], onToken: (id) => streamed.push(id) });
    expect(stopped).toEqual({ ids: naive.slice(0, naive.indexOf(naive[1]) + 1), stop: 'eos' });
    expect(streamed).toEqual(stopped.ids);
    const controller = new AbortController();
    const aborted = await model.generate(prompt, {
      maxNewTokens: 6,
      signal: controller.signal,
      onToken: (id) => {
        if (id === naive[1]) controller.abort();
      },
    });
    expect(aborted).toEqual({ ids: naive.slice(0, naive.indexOf(naive[1]) + 1), stop: 'aborted' });
    model.dispose();
  });

  it('sampling is reproducible from its seed; top-p keeps only the nucleus', async () => {
    const model = loadLlamaModel(config, weights);
    const prompt = [3, 17, 42];
    const a = await model.generate(prompt, { maxNewTokens: 8, temperature: 1.5, seed: 4 });
    const b = await model.generate(prompt, { maxNewTokens: 8, temperature: 1.5, seed: 4 });
    expect(a).toEqual(b);
    const greedy = await model.generate(prompt, { maxNewTokens: 8 });
    // a tiny nucleus always contains only the most likely token: top-p sampling becomes greedy
    const nucleus = await model.generate(prompt, { maxNewTokens: 8, temperature: 1.5, topP: 1e-6, seed: 9 });
    expect(nucleus.ids).toEqual(greedy.ids);
    // sample() itself: with p = softmax([0, ln 2, ln 7]) = [0.1, 0.2, 0.7], top-p 0.75 allows {2, 1} only
    const prng = new Prng(1);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[sample([0, Math.log(2), Math.log(7)], 1, 0.75, prng)]++;
    expect(counts[0]).toBe(0);
    expect(counts[1] / 3000).toBeGreaterThan(0.18); // 0.2 / 0.9 ≈ 0.222
    expect(counts[1] / 3000).toBeLessThan(0.27);
    model.dispose();
  });

  it('rejects ragged or out-of-vocabulary input ids and a mis-shaped mask', () => {
    const model = loadLlamaModel(config, weights);
    expect(() => model.forward({ inputIds: [[1, 2], [3]] })).toThrow(/same length/);
    expect(() => model.forward({ inputIds: [[1, 50]] })).toThrow(/outside the vocabulary/);
    expect(() => model.forward({ inputIds: [[1, 2]], attentionMask: [[1, 1, 1]] })).toThrow(/attentionMask must be \[1, 2\]/);
    model.dispose();
  });
});
