/** The headless `train` command (scripts/cli/train.ts), run in-process on the tiny SmolVLM with PNG images. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../../scripts/cli/train';
import { FIXTURE_MODELS } from '../../scripts/lib/nodeModelSource';
import { toJsonl } from '../data/pairs';
import { sandboxImage, sandboxPairs } from '../data/sandbox';
import { parseSafetensors } from '../models/safetensors';

const dir = mkdtempSync(join(tmpdir(), 'aspo-train-cli-'));

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const METRIC_KEYS = [
  'loss',
  'rewards/chosen',
  'rewards/rejected',
  'rewards/margins',
  'rewards/accuracies',
  'logps/chosen',
  'logps/rejected',
  'aspo/margin',
  'aspo/lambda',
  'aspo/weight_mean',
  'aspo/weight_std',
];

describe('npm run aspo -- train', () => {
  it('trains from a JSONL with images relative to the file, skips a bad line by number, writes the adapter and metrics.jsonl', async () => {
    mkdirSync(join(dir, 'images'));
    const pairs = sandboxPairs().train.slice(0, 2);
    for (const p of pairs) {
      const img = sandboxImage(p.image!)!;
      const path = `images/${p.image!.slice('sandbox:'.length)}.png`;
      await new RawImage(img.data, img.width, img.height, 3).save(join(dir, path));
      p.image = path;
    }
    const lines = toJsonl(pairs).trimEnd().split('\n');
    writeFileSync(join(dir, 'pairs.jsonl'), [lines[0], '{"prompt": "p", "chosen": "c"}', lines[1]].join('\n') + '\n');
    const warnings: string[] = [];
    const out = join(dir, 'run');
    const summary = (await trainCommand.runWith(
      [
        '--model', join(FIXTURE_MODELS, 'tiny-smolvlm'),
        '--pairs', join(dir, 'pairs.jsonl'),
        '--objective', 'aspo',
        '--alpha', '0.5',
        '--rank', '2',
        '--lr', '1e-2',
        '--steps', '3',
        '--seed', '7',
        '--base-model', 'HuggingFaceTB/SmolVLM-256M-Instruct',
        '--out', out,
        '--eval', join(dir, 'pairs.jsonl'),
      ],
      (line) => warnings.push(line),
    )) as Record<string, unknown>;
    const errText = warnings.join('\n');
    expect(errText).toMatch(/skipped line 2: .*pairs\.jsonl:2: field "rejected" is missing/);
    expect(summary).toMatchObject({ pairs: 2, skippedLines: [2], steps: 3, skippedSteps: 0, eval: { pairs: 2, skippedLines: [2] } });
    const evaluation = summary.eval as { before: Record<string, number>; after: Record<string, number> };
    expect(evaluation.before.loss).toBeCloseTo(Math.log(2), 6);
    expect(evaluation.after.loss).not.toBe(evaluation.before.loss);

    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(metrics).toHaveLength(3);
    metrics.forEach((m, i) => {
      expect(m.step).toBe(i + 1);
      expect(m.lr).toBeGreaterThan(0);
      for (const k of METRIC_KEYS) expect(Number.isFinite(m[k])).toBe(true);
    });
    expect(metrics[0].loss).toBeCloseTo(Math.log(2), 5);

    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 4, base_model_name_or_path: 'HuggingFaceTB/SmolVLM-256M-Instruct' });
    const { tensors } = parseSafetensors(readFileSync(join(out, 'adapter_model.safetensors')), 'adapter_model.safetensors');
    const b = tensors.get('base_model.model.model.text_model.layers.0.self_attn.q_proj.lora_B.weight')!;
    expect(b.shape).toEqual([64, 2]);
    expect(Array.from(b.data as Float32Array).some((v) => v !== 0)).toBe(true); // trained
  });

  it('asks for similarities when ASPO needs them and the data has none', async () => {
    writeFileSync(join(dir, 'plain.jsonl'), '{"prompt": "Hi.", "chosen": "Hello there. Nice day.", "rejected": "Go away."}\n');
    const args = ['--model', join(FIXTURE_MODELS, 'tiny-smollm2'), '--pairs', join(dir, 'plain.jsonl'), '--rank', '2', '--steps', '1', '--out', join(dir, 'plain')];
    await expect(trainCommand.runWith([...args, '--objective', 'aspo'], () => {})).rejects.toThrow(/has no similarity\.chosen.*--alpha 0/);
    const summary = (await trainCommand.runWith([...args, '--objective', 'aspo', '--alpha', '0'], () => {})) as { steps: number };
    expect(summary.steps).toBe(1);
  });

  it('refuses bad options with a usage error', async () => {
    const base = ['--model', join(FIXTURE_MODELS, 'tiny-smollm2'), '--pairs', join(dir, 'x.jsonl'), '--out', join(dir, 'y')];
    await expect(trainCommand.run([...base, '--steps', '2'])).rejects.toThrow(/--objective is required/);
    await expect(trainCommand.run([...base, '--objective', 'ppo', '--steps', '2'])).rejects.toThrow(/--objective must be one of dpo, aspo/);
    await expect(trainCommand.run([...base, '--objective', 'dpo', '--steps', '2', '--alpha', '2'])).rejects.toThrow(/alpha \(α\) must be in \[0, 1\]/);
  });
});
