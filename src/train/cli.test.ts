/**
 * The headless `train` command (scripts/cli/train.ts), run in-process on the tiny SmolVLM with PNG images (and
 * the tiny SmolLM2 where text is enough), and once as a child process that gets a real SIGINT. The command starts
 * its own TF.js backend (--backend, default wasm), in-process as in the child.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { SANDBOX_CLIP_DIR, trainCommand } from '../../scripts/cli/train';
import { FIXTURE_MODELS, nodeFolderSource } from '../../scripts/lib/nodeModelSource';
import { toJsonl } from '../data/pairs';
import { parseSafetensors, type SafetensorsTensor } from '../models/safetensors';
import { loadTfjsEngine } from '../models/tfjs/engine';
import { SANDBOX_HELD_OUT_SIZE, SANDBOX_TRAIN_SIZE, sandboxImage, sandboxPairs } from '../sandbox/preferences';
import { sandboxClipSimilarities } from '../../tests/setup/sandboxClip';
import { loraOptions, Trainer } from './trainer';

const dir = mkdtempSync(join(tmpdir(), 'aspo-train-cli-'));
const VLM = join(FIXTURE_MODELS, 'tiny-smolvlm');
const LM = join(FIXTURE_MODELS, 'tiny-smollm2');
const ROOT = resolve(import.meta.dirname, '..', '..');

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

const quiet = () => {};
const train = (args: string[], warn: (line: string) => void = quiet) => trainCommand.runWith(args, warn);
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const metricsOf = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const adapterOf = (out: string) => parseSafetensors(readFileSync(join(out, 'adapter_model.safetensors')), 'adapter_model.safetensors').tensors;
/** Every file of a folder, by name, as bytes: to show that nothing in it changed. */
const snapshot = (folder: string) => Object.fromEntries(readdirSync(folder).map((n) => [n, readFileSync(join(folder, n))]));

function maxDiff(a: Map<string, SafetensorsTensor>, b: Map<string, SafetensorsTensor>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let m = 0;
  for (const [name, t] of a) {
    const u = b.get(name)!.data as Float32Array;
    (t.data as Float32Array).forEach((v, i) => (m = Math.max(m, Math.abs(v - u[i]))));
  }
  return m;
}

/** Text-only pairs for the tiny SmolLM2 (no similarities: DPO or ASPO-P). */
const plainPairs = join(dir, 'plain.jsonl');
writeFileSync(
  plainPairs,
  '{"prompt": "Hi.", "chosen": "Hello there. Nice day.", "rejected": "Go away."}\n{"prompt": "Name a colour.", "chosen": "Blue. It is calm.", "rejected": "A number."}\n',
);
/** Three sandbox pairs, their images as sandbox keys (S_i from the bundled sandbox CLIP), as a JSONL file. */
const sandboxJsonl = join(dir, 'sandbox3.jsonl');
writeFileSync(sandboxJsonl, toJsonl(sandboxPairs().train.slice(0, 3)));

/** The run that the resume tests stop and continue: 3 pairs, 2 a step (the resumed part starts mid-epoch), warm-up and cosine. */
const RESUMABLE = ['--model', VLM, '--pairs', sandboxJsonl, '--objective', 'aspo', '--rank', '2', '--lr', '1e-2', '--warmup', '1', '--batch-size', '2', '--steps', '6', '--seed', '1'];
let straight: Promise<string> | undefined;
/** The same run without a stop, once. */
function uninterrupted(): Promise<string> {
  straight ??= train([...RESUMABLE, '--out', join(dir, 'straight')]).then((s) => s.out);
  return straight;
}

describe('npm run aspo -- train', () => {
  it('trains from a JSONL with images relative to the file and S_i from --clip, skips a bad line by number, writes the adapter, metrics.jsonl and run.json', async () => {
    mkdirSync(join(dir, 'images'));
    const pairs = sandboxPairs().train.slice(0, 2);
    for (const p of pairs) {
      const img = sandboxImage(p.image!);
      const path = `images/${p.image!.slice('sandbox:'.length).replace('/', '-')}.png`;
      await new RawImage(img.data, img.width, img.height, 3).save(join(dir, path));
      p.image = path;
    }
    const lines = toJsonl(pairs).trimEnd().split('\n');
    writeFileSync(join(dir, 'pairs.jsonl'), [lines[0], '{"prompt": "p", "chosen": "c"}', lines[1]].join('\n') + '\n');
    const warnings: string[] = [];
    const out = join(dir, 'run');
    const summary = await train(
      [
        '--model', VLM,
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
        '--clip', SANDBOX_CLIP_DIR,
      ],
      (line) => warnings.push(line),
    );
    const errText = warnings.join('\n');
    expect(errText).toMatch(/skipped line 2: .*pairs\.jsonl:2: field "rejected" is missing/);
    expect(summary).toMatchObject({ pairs: 2, skippedLines: [2], steps: 3, skippedSteps: 0, eval: { pairs: 2, skippedLines: [2] } });
    const evaluation = summary.eval!;
    expect(evaluation.before!.loss).toBeCloseTo(Math.log(2), 6);
    expect(evaluation.after!.loss).not.toBe(evaluation.before!.loss);

    const metrics = metricsOf(out);
    expect(metrics).toHaveLength(3);
    metrics.forEach((m, i) => {
      expect(m.step).toBe(i + 1);
      expect(m.lr).toBeGreaterThan(0);
      for (const k of METRIC_KEYS) expect(Number.isFinite(m[k])).toBe(true);
    });
    expect(metrics[0].loss).toBeCloseTo(Math.log(2), 5);

    const config = readJson(join(out, 'adapter_config.json'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 4, base_model_name_or_path: 'HuggingFaceTB/SmolVLM-256M-Instruct' });
    const b = adapterOf(out).get('base_model.model.model.text_model.layers.0.self_attn.q_proj.lora_B.weight')!;
    expect(b.shape).toEqual([64, 2]);
    expect(Array.from(b.data as Float32Array).some((v) => v !== 0)).toBe(true); // trained

    // run.json says what the run was: the adapter_config.json of a DPO run would be the same file.
    const run = readJson(join(out, 'run.json'));
    expect(run).toMatchObject({
      status: 'complete',
      step: 3,
      totalSteps: 3,
      settings: { objective: 'aspo', alpha: 0.5, seed: 7, lr: 0.01, lora: { r: 2, alpha: 4 }, steps: 3 },
      model: { path: VLM, id: 'HuggingFaceTB/SmolVLM-256M-Instruct', modelType: 'idefics3' },
      data: { pairs: join(dir, 'pairs.jsonl'), pairCount: 2, skippedLines: [2], leftOutLines: [] },
    });
    expect(run.evalBefore.loss).toBeCloseTo(Math.log(2), 6);
    expect(run.model.weightsSha256).toBe(createHash('sha256').update(readFileSync(join(VLM, 'model.safetensors'))).digest('hex'));
  });

  it('--pairs sandbox --eval sandbox trains on the bundled pairs, with S_i from the bundled sandbox CLIP as the trainer gets them in-process', async () => {
    const out = join(dir, 'sandbox-run');
    const settings = ['--objective', 'aspo', '--rank', '2', '--lr', '1e-2', '--batch-size', '4', '--steps', '2', '--seed', '3'];
    const summary = await train(['--model', VLM, '--pairs', 'sandbox', '--eval', 'sandbox', ...settings, '--out', out]);
    expect(summary).toMatchObject({ pairs: SANDBOX_TRAIN_SIZE, skippedLines: [], steps: 2, skippedSteps: 0, eval: { pairs: SANDBOX_HELD_OUT_SIZE, skippedLines: [] } });
    expect(summary.eval!.before!.loss).toBeCloseTo(Math.log(2), 6);
    expect(readJson(join(out, 'run.json')).data).toMatchObject({ pairs: 'sandbox', pairCount: SANDBOX_TRAIN_SIZE });
    // The first step's weights (policy = reference) depend on S_i: the same as a Trainer given the sandbox CLIP's.
    const first = metricsOf(out)[0];
    const engine = await loadTfjsEngine(nodeFolderSource(VLM), { lora: loraOptions(summary.settings) });
    const trainer = new Trainer({ engine, pairs: sandboxPairs().train, settings: summary.settings, similarity: sandboxClipSimilarities });
    try {
      await trainer.prepare();
      const expected = (await trainer.step()).metrics;
      expect(expected['aspo/weight_std']).toBeGreaterThan(0);
      for (const key of ['loss', 'aspo/weight_mean', 'aspo/weight_std'] as const) expect(Math.abs(first[key] - expected[key]), key).toBeLessThan(1e-6);
    } finally {
      trainer.dispose();
      engine.dispose();
    }
  });

  it('asks for similarities, naming the line, when ASPO needs them and the data has none', async () => {
    const args = ['--model', LM, '--pairs', plainPairs, '--rank', '2', '--steps', '1', '--out', join(dir, 'plain')];
    await expect(train([...args, '--objective', 'aspo'])).rejects.toThrow(/plain\.jsonl:1: the pair has no similarity\.chosen.*--alpha 0/);
    const summary = await train([...args, '--objective', 'aspo', '--alpha', '0']);
    expect(summary.steps).toBe(1);
  });

  it('refuses bad options with a usage error', async () => {
    const base = ['--model', LM, '--pairs', join(dir, 'x.jsonl'), '--out', join(dir, 'y')];
    await expect(trainCommand.run([...base, '--steps', '2'])).rejects.toThrow(/--objective is required/);
    await expect(trainCommand.run([...base, '--objective', 'ppo', '--steps', '2'])).rejects.toThrow(/--objective must be one of dpo, aspo/);
    await expect(trainCommand.run([...base, '--objective', 'dpo', '--steps', '2', '--alpha', '2'])).rejects.toThrow(/alpha \(α\) must be in \[0, 1\]/);
    await expect(trainCommand.run([...base, '--objective', 'dpo', '--steps', '2', '--save-every', '0'])).rejects.toThrow('--save-every must be a decimal integer ≥ 1, got "0"');
  });

  it('checks --out, --pairs and --resume before loading the model, naming the file or folder and the fix', async () => {
    const noModel = ['--model', join(dir, 'no-such-model'), '--objective', 'dpo', '--steps', '1'];
    writeFileSync(join(dir, 'a-file'), 'x');
    await expect(train([...noModel, '--pairs', plainPairs, '--out', join(dir, 'a-file')])).rejects.toThrow(/--out .*a-file is a file; give a folder/);
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'train.jsonl'), '');
    await expect(train([...noModel, '--pairs', join(dir, 'data'), '--out', join(dir, 'o1')])).rejects.toThrow(
      /--pairs .*data is a folder; give a JSONL file .*e\.g\. --pairs .*data\/train\.jsonl/,
    );
    await expect(train([...noModel, '--pairs', join(dir, 'missing.jsonl'), '--out', join(dir, 'o2')])).rejects.toThrow(/--pairs .*missing\.jsonl: no such file/);
    await expect(train([...noModel, '--pairs', plainPairs, '--eval', join(dir, 'data'), '--out', join(dir, 'o3')])).rejects.toThrow(/--eval .*data is a folder/);
    await expect(train(['--resume', join(dir, 'data')])).rejects.toThrow(/--resume .*data: the folder has no run\.json/);
    await expect(train([...noModel, '--pairs', plainPairs, '--clip', join(dir, 'data'), '--out', join(dir, 'o5')])).rejects.toThrow(
      /--clip .*data is not a CLIP model folder: it has no config\.json/,
    );
    // Only then the model.
    await expect(train([...noModel, '--pairs', plainPairs, '--out', join(dir, 'o4')])).rejects.toThrow(/no-such-model is not a model folder/);
  });

  it('refuses an --out that holds a run unless --overwrite, and replaces the old run only once the new one can start', async () => {
    const out = join(dir, 'taken');
    await train(['--model', LM, '--pairs', plainPairs, '--objective', 'dpo', '--rank', '2', '--steps', '1', '--out', out]);
    const before = snapshot(out);
    expect(Object.keys(before).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'checkpoint.safetensors', 'metrics.jsonl', 'run.json']);

    // Refused before the model is loaded (there is none at that path).
    const again = ['--pairs', plainPairs, '--objective', 'aspo', '--rank', '2', '--steps', '2', '--out', out];
    await expect(train(['--model', join(dir, 'no-such-model'), ...again])).rejects.toThrow(
      /--out .*taken already holds files \(adapter_config\.json, .*\); a new run would replace them\. Give another folder, or add --overwrite/,
    );
    // A run that fails while preparing leaves the old one whole.
    await expect(train(['--model', LM, ...again, '--overwrite'])).rejects.toThrow(/no similarity\.chosen/);
    expect(snapshot(out)).toEqual(before);

    const summary = await train(['--model', LM, ...again, '--alpha', '0', '--overwrite']);
    expect(summary.steps).toBe(2);
    expect(metricsOf(out).map((m) => m.step)).toEqual([1, 2]);
    expect(readJson(join(out, 'run.json')).settings).toMatchObject({ objective: 'aspo', alpha: 0, steps: 2 });
    expect(readFileSync(join(out, 'adapter_model.safetensors'))).not.toEqual(before['adapter_model.safetensors']);
  });

  it('skips a line whose image is missing or not an image, naming the line and the file, and trains on the rest', async () => {
    const folder = join(dir, 'images-bad');
    mkdirSync(folder);
    const [good] = sandboxPairs().train;
    const img = sandboxImage(good.image!);
    await new RawImage(img.data, img.width, img.height, 3).save(join(folder, 'good.png'));
    writeFileSync(join(folder, 'notes.png'), 'these are my notes, not a picture\n');
    const line = (image: string) => JSON.stringify({ prompt: good.prompt, chosen: good.chosen, rejected: good.rejected, image });
    const file = join(folder, 'pairs.jsonl');
    writeFileSync(file, ['{"prompt": "p"}', line('missing.png'), line('notes.png'), line('good.png')].join('\n') + '\n');
    const warnings: string[] = [];
    const summary = await train(
      ['--model', VLM, '--pairs', file, '--objective', 'dpo', '--rank', '2', '--steps', '1', '--out', join(dir, 'run-bad-images')],
      (l) => warnings.push(l),
    );
    const text = warnings.join('\n');
    expect(text).toMatch(/pairs\.jsonl:2 left out: image "missing\.png" did not load: no such file .*images-bad\/missing\.png/);
    expect(text).toMatch(/pairs\.jsonl:3 left out: image "notes\.png" did not load: .*images-bad\/notes\.png is not an image that can be decoded \(Input buffer contains unsupported image format\)/);
    expect(summary).toMatchObject({ pairs: 1, skippedLines: [1, 2, 3], steps: 1, skippedSteps: 0 });
  });

  it('--lr 1e30: steps whose log-probs are no longer finite are skipped and reported, and the run completes', async () => {
    for (const granularity of ['sentence', 'token']) {
      const out = join(dir, `diverged-${granularity}`);
      const warnings: string[] = [];
      const summary = await train(
        ['--model', LM, '--pairs', plainPairs, '--eval', plainPairs, '--objective', 'aspo', '--alpha', '0', '--granularity', granularity, '--rank', '2', '--batch-size', '1', '--steps', '3', '--lr', '1e30', '--out', out],
        (l) => warnings.push(l),
      );
      expect(summary).toMatchObject({ steps: 3, skippedSteps: 2 });
      const metrics = metricsOf(out);
      expect(metrics.map((m) => m.step)).toEqual([1, 2, 3]);
      expect(metrics[0].skipped).toBeUndefined();
      for (const m of metrics.slice(1)) {
        expect(m.skipped).toMatch(/the policy log-prob of token \d+ of the (chosen|rejected) response of .*plain\.jsonl:\d is NaN \(the adapters have diverged; a lower learning rate avoids this\); update not applied/);
        expect(m.loss).toBeNull(); // NaN in JSON
      }
      expect(Number.isNaN(summary.eval!.after!.loss)).toBe(true);
      expect(warnings.join('\n')).toMatch(/evaluation metrics are NaN: the policy log-prob/);
      // Each skipped step is said while the run goes on, with the reason metrics.jsonl records for it.
      expect(warnings.filter((w) => /^step \d+ of 3 skipped: /.test(w))).toEqual(metrics.slice(1).map((m) => `step ${m.step} of 3 skipped: ${m.skipped}`));
      expect(readJson(join(out, 'run.json')).status).toBe('complete');
    }
  });

  it('stopped after k steps and continued with --resume, a run ends with the adapter of an uninterrupted one (≤ 1e-6); options that differ are named', async () => {
    const expected = await uninterrupted();
    const out = join(dir, 'stopped');
    const stop = new AbortController();
    let runJsonAtStep3: { status: string; step: number } | undefined;
    const stopped = await trainCommand.runWith([...RESUMABLE, '--out', out, '--save-every', '2'], quiet, {
      stop: stop.signal,
      onStep: (report) => {
        if (report.step !== 3) return;
        runJsonAtStep3 = readJson(join(out, 'run.json'));
        stop.abort('SIGINT');
      },
    });
    expect(runJsonAtStep3).toMatchObject({ status: 'running', step: 2 }); // the checkpoint every 2 steps
    expect(stopped).toMatchObject({ steps: 3, totalSteps: 6, interrupted: 'SIGINT' });
    expect(readJson(join(out, 'run.json'))).toMatchObject({ status: 'interrupted', step: 3, message: 'stopped by SIGINT after step 3 of 6' });
    expect(metricsOf(out)).toHaveLength(3);
    expect(adapterOf(out).size).toBeGreaterThan(0);

    await expect(train(['--resume', out, '--lr', '0.02', '--seed', '1', '--steps', '7'])).rejects.toThrow(
      /--resume .*stopped: --lr \(the run used 0\.01, given 0\.02\); --steps \(the run used 6, given 7\)\. Leave these out/,
    );
    await expect(train(['--resume', out, '--overwrite'])).rejects.toThrow(/--resume continues a run and --overwrite replaces one/);
    const resumed = await train(['--resume', out, '--objective', 'aspo', '--lr', '0.01']); // the run's own values are fine
    expect(resumed).toMatchObject({ steps: 6, resumedFrom: 3, skippedSteps: 0 });
    expect(maxDiff(adapterOf(out), adapterOf(expected))).toBeLessThanOrEqual(1e-6);
    expect(metricsOf(out).map((m) => [m.step, m.loss])).toEqual(metricsOf(expected).map((m) => [m.step, m.loss]));
    expect(readJson(join(out, 'run.json'))).toMatchObject({ status: 'complete', step: 6 });
    await expect(train(['--resume', out])).rejects.toThrow(/the run is complete \(6 of 6 steps\)/);
  });

  it('a stop while preparing ends the run with the signal\'s exit code and writes nothing', async () => {
    const out = join(dir, 'stopped-early');
    const stop = new AbortController();
    stop.abort('SIGINT');
    const err = await trainCommand
      .runWith(['--model', LM, '--pairs', plainPairs, '--objective', 'dpo', '--rank', '2', '--steps', '2', '--out', out], quiet, { stop: stop.signal })
      .then(() => null, (e: Error & { exitCode?: number }) => e);
    expect(err?.message).toBe('stopped by SIGINT while preparing: no step was taken and no file of the run changed');
    expect(err?.exitCode).toBe(130);
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses to resume on other data or other model weights', async () => {
    const model = join(dir, 'lm-copy');
    cpSync(LM, model, { recursive: true });
    const pairs = join(dir, 'plain-copy.jsonl');
    writeFileSync(pairs, readFileSync(plainPairs));
    const out = join(dir, 'resume-changed');
    const stop = new AbortController();
    const args = ['--model', model, '--pairs', pairs, '--objective', 'dpo', '--rank', '2', '--batch-size', '1', '--steps', '3', '--out', out];
    await trainCommand.runWith(args, quiet, { stop: stop.signal, onStep: () => stop.abort('SIGTERM') });
    expect(readJson(join(out, 'run.json'))).toMatchObject({ status: 'interrupted', step: 1, message: 'stopped by SIGTERM after step 1 of 3' });

    writeFileSync(pairs, readFileSync(plainPairs, 'utf8').replace('Go away.', 'Leave.'));
    await expect(train(['--resume', out])).rejects.toThrow(/plain-copy\.jsonl is not the data the run started on .*resuming needs the same pairs/);
    writeFileSync(pairs, readFileSync(plainPairs));
    const weights = readFileSync(join(model, 'model.safetensors'));
    weights[weights.length - 1] ^= 1; // the last byte of the last tensor: still a valid file, other weights
    writeFileSync(join(model, 'model.safetensors'), weights);
    await expect(train(['--resume', out])).rejects.toThrow(/model\.safetensors is not the file the run started with \(its SHA-256 differs\)/);
    expect(readJson(join(out, 'run.json'))).toMatchObject({ status: 'interrupted', step: 1 });
  });

  it('a real SIGINT to the CLI saves the adapter and a checkpoint, exits with 130, and --resume ends where an uninterrupted run does', async () => {
    const expected = await uninterrupted();
    const out = join(dir, 'sigint');
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/aspo.ts', 'train', ...RESUMABLE, '--out', out, '--save-every', '100'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const stepsWritten = () => (existsSync(join(out, 'metrics.jsonl')) ? metricsOf(out).length : 0);
    const deadline = Date.now() + 90_000;
    while (stepsWritten() < 2 && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGINT');
    const code = await exited;
    expect(stderr).toMatch(/stopped by SIGINT after step \d of 6; adapter and checkpoint saved in .*sigint; continue with: npm run aspo -- train --resume/);
    expect(code).toBe(130);
    const run = readJson(join(out, 'run.json'));
    expect(run.status).toBe('interrupted');
    expect(run.step).toBeGreaterThanOrEqual(2);
    expect(run.step).toBeLessThan(6);
    expect(JSON.parse(stdout)).toMatchObject({ interrupted: 'SIGINT', steps: run.step });
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(true);
    expect(adapterOf(out).size).toBe(adapterOf(expected).size);
    expect(metricsOf(out)).toHaveLength(run.step);

    const resumed = await train(['--resume', out]);
    expect(resumed).toMatchObject({ steps: 6, resumedFrom: run.step });
    expect(maxDiff(adapterOf(out), adapterOf(expected))).toBeLessThanOrEqual(1e-6);
  });
});
