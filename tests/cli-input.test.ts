/**
 * Bad input on the command line, end to end on the tiny fixtures: integer options that are not decimal or out of
 * range, pairs files that are not UTF-8, a model whose weights are NaN, a model folder without its tokenizer.
 * Every case says what is wrong and where, before any work where it can.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../scripts/cli/args';
import { trainCommand } from '../scripts/cli/train';
import { FIXTURE_MODELS } from '../scripts/lib/nodeModelSource';
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor } from '../src/models/safetensors';
import { aspo } from './setup/aspoCli';

const dir = mkdtempSync(join(tmpdir(), 'aspo-cli-input-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of a fixture model folder under `name`, with `edit` applied to it. */
function modelCopy(fixture: string, name: string, edit: (folder: string) => void): string {
  const folder = join(dir, name);
  cpSync(join(FIXTURE_MODELS, fixture), folder, { recursive: true });
  edit(folder);
  return folder;
}

describe('integer and number options', () => {
  // No model is read before the options are checked: this folder does not exist.
  const base = ['--model', join(dir, 'never-read'), '--pairs', join(dir, 'never-read.jsonl'), '--objective', 'dpo', '--out', join(dir, 'never-written')];
  const cases: [string[], string][] = [
    [['--steps', '0x10'], '--steps must be a decimal integer ≥ 1, got "0x10"'],
    [['--steps', '1e1'], '--steps must be a decimal integer ≥ 1, got "1e1"'],
    [['--steps', '16.0'], '--steps must be a decimal integer ≥ 1, got "16.0"'],
    [['--steps', '0'], '--steps must be a decimal integer ≥ 1, got "0"'],
    [['--steps', ' 16'], '--steps must be a decimal integer ≥ 1, got " 16"'],
    [['--steps', '99999999999999999999'], '--steps must be a decimal integer ≥ 1, got "99999999999999999999"'],
    [['--steps', '2', '--seed', '4294967296'], '--seed must be a decimal integer from 0 to 4294967295, got "4294967296"'],
    [['--steps', '2', '--seed=-1'], '--seed must be a decimal integer from 0 to 4294967295, got "-1"'],
    [['--steps', '2', '--seed', '0b1'], '--seed must be a decimal integer from 0 to 4294967295, got "0b1"'],
    [['--steps', '2', '--rank', '0'], '--rank must be a decimal integer ≥ 1, got "0"'],
    [['--steps', '2', '--rank', '2.5'], '--rank must be a decimal integer ≥ 1, got "2.5"'],
    [['--steps', '2', '--batch-size', '0x2'], '--batch-size must be a decimal integer ≥ 1, got "0x2"'],
    [['--steps', '2', '--warmup=-1'], '--warmup must be a decimal integer ≥ 0, got "-1"'],
    [['--steps', '2', '--max-seq-len', '1e3'], '--max-seq-len must be a decimal integer ≥ 4, got "1e3"'],
    // The range is the setting's (TRAIN_SETTINGS), checked by the option parser as the tab's field checks it.
    [['--steps', '2', '--max-seq-len', '3'], '--max-seq-len must be a decimal integer ≥ 4, got "3"'],
    [['--steps', '2', '--lr', '0x10'], '--lr must be a decimal number, got "0x10"'],
    [['--steps', '2', '--beta', 'Infinity'], '--beta must be a decimal number, got "Infinity"'],
    [['--steps', '2', '--lora-alpha', ''], '--lora-alpha must be a decimal number, got ""'],
  ];
  it.each(cases)('%j is refused as a usage error', async (args, message) => {
    const err = await trainCommand.run([...base, ...args]).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.message).toBe(message);
    expect(existsSync(join(dir, 'never-written'))).toBe(false);
  });

  it('exits 2 with the message and the usage', async () => {
    const r = await aspo(['train', ...base, '--steps', '0x10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('aspo: --steps must be a decimal integer ≥ 1, got "0x10"');
    expect(r.stderr).toContain('usage:');
  });
});

describe('the settings on the command line', () => {
  it('the usage names every setting the command line sets, with what it takes, its range and default', () => {
    const lines = trainCommand.usage.split('\n');
    const line = (flag: string) => lines.find((l) => l.trim().startsWith(`--${flag} `)) ?? `no line for --${flag}`;
    expect(line('normalization')).toMatch(/--normalization mean\|reward-ratio\|none +λ normalisation \(default mean\)$/);
    expect(line('granularity')).toMatch(/--granularity sentence\|response\|token +Granularity \(default sentence\)$/);
    expect(line('alpha')).toMatch(/--alpha X +α \(similarity ↔ perplexity\), in \[0, 1\] \(default 0\.5\)$/);
    expect(line('beta')).toMatch(/--beta X +β \(KL strength\), a positive number \(default 0\.1\)$/);
    expect(line('seed')).toMatch(/--seed N +Seed, an integer from 0 to 4294967295 \(default 0\)$/);
    expect(line('max-seq-len')).toMatch(/--max-seq-len N +Max sequence length, an integer of at least 4 \(default 1024\)$/);
    expect(line('objective')).toMatch(/--objective dpo\|aspo +Objective \(required\)$/);
    expect(line('steps')).toMatch(/--steps N +Steps, a positive integer \(required\)$/);
    expect(line('lora-alpha')).toMatch(/\(default 2·rank\)$/);
    for (const flag of ['perplexity-source', 'rank', 'lr', 'warmup', 'batch-size', 'grad-clip']) expect(line(flag)).toMatch(/\((default .+|required)\)$/);
  });
});

describe('pairs files must be UTF-8', () => {
  const pairs = [
    { prompt: 'Where is the cat?', chosen: 'On the mat.', rejected: 'In the café.' },
    { prompt: 'What colour is it?', chosen: 'Red. Quite red.', rejected: 'Blue.' },
  ];
  const lines = pairs.map((p) => JSON.stringify(p));
  const args = (file: string, out: string) => [
    '--model', join(FIXTURE_MODELS, 'tiny-smollm2'),
    '--pairs', file,
    '--objective', 'dpo',
    '--rank', '2',
    '--steps', '1',
    '--seed', '4294967295',
    '--out', out,
  ];

  it('refuses a Latin-1 file naming the file and the line, before any work', async () => {
    const file = join(dir, 'latin1.jsonl');
    // Line 1 is ASCII; line 2 holds the "é" of "café" as the single Latin-1 byte 0xe9.
    const text = `${JSON.stringify(pairs[1])}\n${lines[0]}\n`;
    writeFileSync(file, Uint8Array.from(text, (c) => c.charCodeAt(0)));
    const out = join(dir, 'latin1-run');
    await expect(trainCommand.runWith(args(file, out), () => {})).rejects.toThrow(
      `${file}: line 2 is not valid UTF-8 (byte 0xe9 at offset ${text.indexOf('é')})`,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('trains on the same file saved as UTF-8, with the largest seed', async () => {
    const file = join(dir, 'utf8.jsonl');
    writeFileSync(file, `${JSON.stringify(pairs[1])}\n${lines[0]}\n`);
    const summary = (await trainCommand.runWith(args(file, join(dir, 'utf8-run')), () => {})) as { pairs: number; steps: number; settings: { seed: number } };
    expect(summary.pairs).toBe(2);
    expect(summary.steps).toBe(1);
    expect(summary.settings.seed).toBe(4294967295);
  });
});

describe('model folders', () => {
  it('refuses the NaN log-probs of a model with NaN weights, naming the model (exit 1, nothing on stdout)', async () => {
    const folder = modelCopy('tiny-smollm2', 'nan-smollm2', (f) => {
      const path = join(f, 'model.safetensors');
      const { metadata, tensors } = parseSafetensors(readFileSync(path), path);
      const all: Record<string, SafetensorsTensor> = Object.fromEntries(tensors);
      const norm = all['model.norm.weight'];
      all['model.norm.weight'] = { ...norm, data: new Float32Array(norm.data.length).fill(NaN) };
      writeFileSync(path, serializeSafetensors(all, metadata));
    });
    const r = await aspo(['logprobs', '--model', folder, '--prompt', 'Hi.', '--response', 'Hello there.']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^aspo: folder nan-smollm2 gives a non-finite log-prob \(NaN\) for token 0 \(".+"\) of the response: its weights hold NaN/m);
    expect(r.code).toBe(1);
  });

  it.each([
    ['logprobs', 'tiny-smolvlm', 'tfjs'],
    ['logprobs', 'tiny-smolvlm', 'onnx'],
    ['similarity', 'tiny-clip', 'onnx'],
  ])('%s on a %s folder without tokenizer.json (%s) names the folder, the file and the fix', async (command, fixture, engine) => {
    const folder = modelCopy(fixture, `no-tokenizer-${fixture}-${engine}`, (f) => rmSync(join(f, 'tokenizer.json')));
    const png = join(dir, 'one.png');
    writeFileSync(png, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64'));
    const args =
      command === 'similarity'
        ? ['similarity', '--clip', folder, '--image', png, '--text', 'A dot.']
        : ['logprobs', '--model', folder, '--prompt', 'Hi.', '--response', 'Hello.', '--engine', engine];
    const r = await aspo(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`aspo: folder no-tokenizer-${fixture}-${engine} has no file tokenizer.json (it holds: `);
    expect(r.stderr).toContain(
      'transformers.js needs it to load this model: copy tokenizer.json into the folder from the model\'s original repository, or pick the folder that holds it.',
    );
    expect(r.stderr).not.toContain('aspo-workbench.invalid');
  });
});
