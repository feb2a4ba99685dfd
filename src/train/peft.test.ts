import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureSource } from '../../scripts/lib/nodeModelSource';
import { parseSafetensors } from '../models/safetensors';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import { adapterLayout, checkPeftAdapter, exportPeftAdapter, importPeftAdapter, peftTargetModules, readPeftConfig } from './peft';
import { useTestBackend } from '../../tests/setup/testBackend';

beforeAll(useTestBackend);

/** Gives every adapter non-zero, distinct weights, as training would. */
function perturb(engine: TfjsEngine): void {
  engine.model.lora.variables().forEach((v, i) => tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 100 + i), 0.05)))));
}

describe('PEFT adapter export / import', () => {
  it('writes PEFT names and config for SmolLM2, and re-imports into a fresh model to the same log-probs', async () => {
    const trained = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: { r: 4, alpha: 8, seed: 1 } });
    perturb(trained);
    const files = await exportPeftAdapter(trained.model.lora, { baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct' });
    const { tensors, metadata } = parseSafetensors(files['adapter_model.safetensors'], 'adapter_model.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape).toEqual([4, 64]);
    expect(tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')!.shape).toEqual([64, 4]);
    expect(tensors.size).toBe(2 * 7 * 2);
    const config = JSON.parse(files['adapter_config.json']);
    expect(config).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      base_model_name_or_path: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      task_type: 'CAUSAL_LM',
      bias: 'none',
      lora_dropout: 0,
      fan_in_fan_out: false,
      inference_mode: true,
      use_dora: false,
    });
    expect(config.target_modules).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    expect(Object.keys(config)).toEqual([...Object.keys(config)].sort());

    const request = { prompt: 'Describe the image.', responses: ['Two red circles. The background is white.', 'A dog.'] };
    const want = await trained.logprobs(request);
    const fresh = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: { r: 4, alpha: 8, seed: 99 } });
    const untouched = await fresh.logprobs(request);
    expect(Math.abs(untouched[0].total - want[0].total)).toBeGreaterThan(1e-3);
    importPeftAdapter(files, fresh.model.lora);
    const got = await fresh.logprobs(request);
    got.forEach((r, i) => r.tokens.forEach((t, k) => expect(t.logp).toBe(want[i].tokens[k].logp)));

    // Clear errors, and nothing changes on a failed import.
    const rank8 = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: { r: 8, alpha: 8 } });
    expect(() => importPeftAdapter(files, rank8.model.lora)).toThrow(/rank r = 4 but the model's adapters have rank 8/);
    expect(() => importPeftAdapter({ 'adapter_model.safetensors': files['adapter_model.safetensors'] }, rank8.model.lora)).toThrow(
      /lora_A\.weight" has shape \[4, 64\] but the model expects \[8, 64\] \(rank 4 in the file, 8 in the model\)/,
    );
    const alpha = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: { r: 4, alpha: 16 } });
    expect(() => importPeftAdapter(files, alpha.model.lora)).toThrow(/lora_alpha is 8 but the model's adapters use 16/);
    const qv = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] } });
    const before = await qv.model.lora.exportPeft();
    expect(() => importPeftAdapter(files, qv.model.lora)).toThrow(/has 20 tensor\(s\) this model has no adapter for, e\.g\. "base_model\.model\.model\.layers\.0\.mlp\.down_proj\.lora_A\.weight"/);
    const after = await qv.model.lora.exportPeft();
    for (const [k, v] of before) expect(after.get(k)!.data).toEqual(v.data);
    const vlm = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { lora: { r: 4, alpha: 8 } });
    expect(() => importPeftAdapter(files, vlm.model.lora)).toThrow(/has no tensor "base_model\.model\.model\.text_model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight"/);
    expect(() => importPeftAdapter({ ...files, 'adapter_config.json': '{"peft_type": "IA3"}' }, fresh.model.lora)).toThrow(/only LORA/);
    [trained, fresh, rank8, alpha, qv, vlm].forEach((e) => e.dispose());
  });

  it('names SmolVLM adapters under model.text_model and restricts target_modules to the language model', async () => {
    const vlm = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { lora: { r: 2, alpha: 4 } });
    perturb(vlm);
    const target = peftTargetModules(vlm.model.lora) as string;
    expect(typeof target).toBe('string');
    const re = new RegExp(`^(?:${target})$`); // PEFT re.fullmatch()es a string target against each module name
    expect(re.test('model.text_model.layers.0.self_attn.q_proj')).toBe(true);
    expect(re.test('model.text_model.layers.1.mlp.down_proj')).toBe(true);
    expect(re.test('model.vision_model.encoder.layers.0.self_attn.q_proj')).toBe(false);
    expect(re.test('model.connector.modality_projection.proj')).toBe(false);
    const files = await exportPeftAdapter(vlm.model.lora, { baseModel: 'HuggingFaceTB/SmolVLM-256M-Instruct' });
    const names = [...parseSafetensors(files['adapter_model.safetensors'], 'a').tensors.keys()];
    expect(names).toContain('base_model.model.model.text_model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(names.every((n) => /^base_model\.model\.model\.text_model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/.test(n))).toBe(true);
    const copy = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { lora: { r: 2, alpha: 4, seed: 5 } });
    importPeftAdapter(files, copy.model.lora);
    const [a, b] = [await vlm.model.lora.exportPeft(), await copy.model.lora.exportPeft()];
    for (const [k, v] of a) expect(b.get(k)!.data).toEqual(v.data);
    vlm.dispose();
    copy.dispose();
  });

  it('checks a file at the rank its config names before a reload, so a bad file changes nothing', async () => {
    const engine = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: { r: 4, alpha: 8, seed: 1 } });
    perturb(engine);
    const files = await exportPeftAdapter(engine.model.lora, { baseModel: 'tiny' });
    // The layout a reload at r = 8 would give: the same layers, A [8, in] and B [out, 8].
    const rank8 = adapterLayout(engine.model.lora, { r: 8, alpha: 16 });
    expect(rank8.modules[0]).toEqual({ name: 'model.layers.0.self_attn.q_proj', inFeatures: 64, outFeatures: 64 });
    const claimsRank8 = { ...files, 'adapter_config.json': JSON.stringify({ ...JSON.parse(files['adapter_config.json']), r: 8, lora_alpha: 16 }) };
    expect(() => checkPeftAdapter(claimsRank8, rank8)).toThrow(
      /adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[4, 64\] but the model expects \[8, 64\] \(rank 4 in the file, 8 in the model\)/,
    );
    const checked = checkPeftAdapter(files, adapterLayout(engine.model.lora));
    const exported = await engine.model.lora.exportPeft();
    expect(checked.get('model.layers.1.mlp.down_proj')!.B.data).toEqual(exported.get('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')!.data);

    expect(readPeftConfig(undefined)).toEqual({});
    expect(readPeftConfig(files['adapter_config.json'])).toEqual({ r: 4, alpha: 8 });
    expect(() => readPeftConfig('{"r": 4,')).toThrow(/^adapter_config\.json is not valid JSON/);
    expect(() => readPeftConfig('[]')).toThrow(/adapter_config\.json must hold a JSON object/);
    expect(() => readPeftConfig('{"r": "4"}')).toThrow(/adapter_config\.json: r must be a positive integer, got "4"/);
    expect(() => readPeftConfig('{"r": 0}')).toThrow(/r must be a positive integer, got 0/);
    expect(() => readPeftConfig('{"lora_alpha": -1}')).toThrow(/lora_alpha must be a positive number, got -1/);
    engine.dispose();
  });
});
