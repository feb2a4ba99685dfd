import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { download, maxAbsDiff, pixels, tinyIdefics3Config, tinyLlamaConfig, useTestBackend } from './fixtures.testutil';
import { Linear, LoraAdapters } from './lora';
import { loadIdefics3Model, loadLlamaModel, randomWeights } from './weights';

beforeAll(useTestBackend);

const config = tinyIdefics3Config();
const weights = randomWeights(config, 21, { std: 0.3, normStd: 0.1 });
const IMG = config.imageTokenId;
const ids = [[2, IMG, IMG, IMG, IMG, 5, 6, 7, 30, 12]];

describe('LoraAdapters', () => {
  it('initialises A Kaiming-uniform(a=√5) = U(±1/√in) from the seed, B = 0', async () => {
    const lora = new LoraAdapters({ r: 4, alpha: 8, seed: 3 });
    const ad = lora.attach('model.layers.0.self_attn.q_proj', 400, 30)!;
    expect(ad.A.shape).toEqual([4, 400]);
    expect(ad.B.shape).toEqual([30, 4]);
    const a = await download(ad.A);
    const bound = 1 / Math.sqrt(400);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.98 * bound); // fills the interval
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + v * v, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.1 * bound);
    expect(Math.abs(variance - (bound * bound) / 3) / ((bound * bound) / 3)).toBeLessThan(0.1); // var of U(−b,b) = b²/3
    expect([...(await download(ad.B))].every((v) => v === 0)).toBe(true);
    expect(lora.scaling).toBe(2);

    const same = new LoraAdapters({ r: 4, alpha: 8, seed: 3 });
    const other = new LoraAdapters({ r: 4, alpha: 8, seed: 4 });
    const a2 = await download(same.attach('model.layers.0.self_attn.q_proj', 400, 30)!.A);
    const a3 = await download(other.attach('model.layers.0.self_attn.q_proj', 400, 30)!.A);
    expect([...a2]).toEqual([...a]);
    expect(maxAbsDiff(a3, a)).toBeGreaterThan(0);
    expect(lora.attach('model.vision_model.encoder.layers.0.mlp.fc1', 4, 4)).toBeUndefined();
    [lora, same, other].forEach((l) => l.dispose());
  });

  it('a LoRA linear computes x Wᵀ + b + (α/r)(x Aᵀ)Bᵀ', async () => {
    const W = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = tf.tensor1d([0.5, -0.5]);
    const lora = new LoraAdapters({ r: 1, alpha: 3 });
    const ad = lora.attach('x.q_proj', 3, 2)!;
    ad.A.assign(tf.tensor2d([[1, 0, -1]]));
    ad.B.assign(tf.tensor2d([[2], [1]]));
    const lin = new Linear('x.q_proj', W, b, ad, lora.scaling);
    const x = tf.tensor3d([1, 1, 1, 0, 2, 1], [1, 2, 3]);
    // row 1: Wx = [6, 15] + b = [6.5, 14.5]; Ax = 0 → same.  row 2: Wx = [7, 16] + b = [7.5, 15.5]; Ax = −1 → +3·[−2, −1]
    expect([...(await download(lin.apply(x, true)))]).toEqual([6.5, 14.5, 1.5, 12.5]);
    expect([...(await download(lin.apply(x, false)))]).toEqual([6.5, 14.5, 7.5, 15.5]);
    tf.dispose([W, b, x]);
    lora.dispose();
  });

  it('targets every linear of the language model by default, and only those named otherwise', () => {
    const model = loadIdefics3Model(config, weights, { r: 2, alpha: 4 });
    const names = model.lora.names();
    expect(names).toHaveLength(2 * 7);
    expect(names.slice(0, 7)).toEqual([
      'model.text_model.layers.0.self_attn.q_proj',
      'model.text_model.layers.0.self_attn.k_proj',
      'model.text_model.layers.0.self_attn.v_proj',
      'model.text_model.layers.0.self_attn.o_proj',
      'model.text_model.layers.0.mlp.gate_proj',
      'model.text_model.layers.0.mlp.up_proj',
      'model.text_model.layers.0.mlp.down_proj',
    ]);
    model.dispose();
    const qv = loadLlamaModel(tinyLlamaConfig(), randomWeights(tinyLlamaConfig(), 1), { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'] });
    expect(qv.lora.names()).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    qv.dispose();
  });

  it('with B = 0 the adapted model equals the base model exactly', async () => {
    const model = loadIdefics3Model(config, weights, { r: 4, alpha: 8, seed: 1 });
    const pv = tf.tensor4d(pixels(1, 3, 16, 16, 1), [1, 3, 16, 16]);
    const on = await download(model.forward({ inputIds: ids, pixelValues: pv, lora: true }));
    const off = await download(model.forward({ inputIds: ids, pixelValues: pv, lora: false }));
    expect(maxAbsDiff(on, off)).toBe(0);
    pv.dispose();
    model.dispose();
  });

  it('gradients reach only the LoRA variables; base weights are plain tensors', async () => {
    const model = loadIdefics3Model(config, weights, { r: 4, alpha: 8, seed: 2 });
    const pv = tf.tensor4d(pixels(1, 3, 16, 16, 2), [1, 3, 16, 16]);
    const feats = model.visionFeatures(pv);
    const loss = () => tf.neg(tf.sum(model.tokenLogprobs({ inputIds: ids, imageFeatures: feats }))) as tf.Scalar;
    // no varList: TF.js differentiates w.r.t. every trainable variable that exists
    const { value, grads } = tf.variableGrads(loss);
    const loraVars = model.lora.variables();
    expect(Object.keys(grads).sort()).toEqual(loraVars.map((v) => v.name).sort());
    for (const name of model.lora.names()) {
      const ad = model.lora.get(name)!;
      // at init B = 0, so ∂/∂A = 0 and ∂/∂B ≠ 0
      expect(Math.max(...(await download(grads[ad.B.name])).map(Math.abs))).toBeGreaterThan(0);
      expect(Math.max(...(await download(grads[ad.A.name])).map(Math.abs))).toBe(0);
    }
    tf.dispose([value, ...Object.values(grads)]);
    const base: tf.Tensor[] = [model.text.weights.embedTokens, model.text.weights.norm, model.vision.weights.patchWeight];
    for (const l of model.text.weights.layers) base.push(l.qProj.weight, l.downProj.weight, l.inputLayernorm);
    for (const t of base) expect(t).not.toBeInstanceOf(tf.Variable);
    for (const v of loraVars) expect(v.trainable).toBe(true);
    tf.dispose([pv, feats]);
    model.dispose();
  });

  it('after Adam steps on the LoRA variables, adapters-off still gives the reference while adapters-on differs', async () => {
    const model = loadIdefics3Model(config, weights, { r: 4, alpha: 8, seed: 5 });
    const pv = tf.tensor4d(pixels(1, 3, 16, 16, 7), [1, 3, 16, 16]);
    const feats = model.visionFeatures(pv);
    const reference = await download(model.tokenLogprobs({ inputIds: ids, imageFeatures: feats, lora: false }));
    const optimizer = tf.train.adam(0.05);
    const loss = () => tf.neg(tf.mean(model.tokenLogprobs({ inputIds: ids, imageFeatures: feats, lora: true }))) as tf.Scalar;
    const first = optimizer.minimize(loss, true, model.lora.variables())!;
    const l0 = (await first.data())[0];
    first.dispose();
    for (let i = 0; i < 4; i++) optimizer.minimize(loss, false, model.lora.variables());
    const after = tf.tidy(loss);
    const l5 = (await after.data())[0];
    after.dispose();
    expect(l5).toBeLessThan(l0);

    const off = await download(model.tokenLogprobs({ inputIds: ids, imageFeatures: feats, lora: false }));
    expect(maxAbsDiff(off, reference)).toBe(0);
    const on = await download(model.tokenLogprobs({ inputIds: ids, imageFeatures: feats, lora: true }));
    expect(maxAbsDiff(on, reference)).toBeGreaterThan(1e-3);
    // the `enabled` switch is the same as passing lora: false
    model.lora.enabled = false;
    const switched = await download(model.tokenLogprobs({ inputIds: ids, imageFeatures: feats }));
    expect(maxAbsDiff(switched, reference)).toBe(0);
    model.lora.enabled = true;

    const peft = await model.lora.exportPeft();
    expect(peft.get('base_model.model.model.text_model.layers.1.mlp.down_proj.lora_A.weight')?.shape).toEqual([4, 40]);
    expect(peft.get('base_model.model.model.text_model.layers.1.mlp.down_proj.lora_B.weight')?.shape).toEqual([24, 4]);
    expect(peft.size).toBe(2 * 14);
    optimizer.dispose();
    tf.dispose([pv, feats]);
    model.dispose();
  });
});
