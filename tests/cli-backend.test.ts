/**
 * `--backend` on the command line: each TF.js backend gives the default's log-probs, and what ran is in the JSON;
 * a training run records its backend in run.json, and a resume may change it and still reach the weights of an
 * uninterrupted run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../scripts/cli/runFolder';
import { trainCommand } from '../scripts/cli/train';
import { FIXTURE_MODELS } from '../scripts/lib/nodeModelSource';
import { parseSafetensors } from '../src/models/safetensors';
import { aspo } from './setup/aspoCli';

interface Printed {
  inputIds: number[];
  tokens: { id: number; logp: number }[];
  backend: { name: string; threads?: number; adapter?: string };
}

let dir: string;
let png: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aspo-cli-backend-'));
  png = join(dir, 'square.png');
  const pixels = new Uint8ClampedArray(32 * 24 * 3).map((_, i) => (i * 37 + (i % 5) * 13) % 256);
  await new RawImage(pixels, 32, 24, 3).save(png);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run aspo -- logprobs --backend', () => {
  it('cpu and webgpu give the default (wasm) log-probs within 1e-4, and the JSON names the backend that ran', async () => {
    const args = ['logprobs', '--model', join(FIXTURE_MODELS, 'tiny-smolvlm'), '--image', png, '--prompt', 'Colour?', '--response', 'Red. Quite red.', '--response', 'Blue!'];
    const runs = { wasm: await aspo(args), cpu: await aspo([...args, '--backend', 'cpu']), webgpu: await aspo([...args, '--backend', 'webgpu']) };
    for (const r of Object.values(runs)) expect(r.code, r.stderr).toBe(0);
    const [wasm, cpu, webgpu] = [runs.wasm, runs.cpu, runs.webgpu].map((r) => JSON.parse(r.stdout) as Printed[]);
    expect(wasm.map((r) => r.backend)).toEqual([{ name: 'wasm', threads: 1 }, { name: 'wasm', threads: 1 }]);
    expect(cpu.map((r) => r.backend)).toEqual([{ name: 'cpu' }, { name: 'cpu' }]);
    for (const r of webgpu) expect(r.backend).toEqual({ name: 'webgpu', adapter: expect.any(String) });
    for (const other of [cpu, webgpu]) {
      other.forEach((response, i) => {
        expect(response.inputIds).toEqual(wasm[i].inputIds);
        expect(response.tokens.map((t) => t.id)).toEqual(wasm[i].tokens.map((t) => t.id));
        response.tokens.forEach((t, k) => expect(Math.abs(t.logp - wasm[i].tokens[k].logp)).toBeLessThan(1e-4));
      });
    }
    // The responses differ, so agreement is not that of two constant rows.
    expect(new Set(wasm[0].tokens.map((t) => t.logp.toFixed(4))).size).toBeGreaterThan(3);
  });
});

describe('npm run aspo -- train --backend', () => {
  const PAIRS = [
    { prompt: 'Where is the cat?', chosen: 'On the mat. It sleeps.', rejected: 'In the car.' },
    { prompt: 'What colour is it?', chosen: 'Red. Quite red.', rejected: 'Blue.' },
  ];
  const args = (out: string) => [
    '--model', join(FIXTURE_MODELS, 'tiny-smollm2'),
    '--pairs', join(dir, 'pairs.jsonl'),
    '--objective', 'aspo', '--alpha', '0',
    '--rank', '2', '--lr', '0.01', '--batch-size', '1',
    '--steps', '2', '--seed', '7',
    '--out', out,
  ];
  const quiet = () => {};
  const adapter = (out: string) =>
    new Map([...parseSafetensors(readFileSync(join(out, 'adapter_model.safetensors')), out).tensors].map(([name, t]) => [name, t.data as Float32Array]));
  const record = (out: string) => JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunRecord;

  it("records the backend in run.json and the summary; a run resumed on another backend ends at the uninterrupted run's weights within 1e-4", async () => {
    writeFileSync(join(dir, 'pairs.jsonl'), PAIRS.map((p) => JSON.stringify(p)).join('\n'));
    const straight = join(dir, 'straight');
    const whole = await trainCommand.runWith([...args(straight), '--backend', 'cpu'], quiet);
    expect(whole.backend).toEqual({ name: 'cpu' });
    expect(record(straight).backends).toEqual([{ name: 'cpu', fromStep: 0 }]);

    const resumed = join(dir, 'resumed');
    const stop = new AbortController();
    await trainCommand.runWith([...args(resumed), '--backend', 'cpu'], quiet, { stop: stop.signal, onStep: () => stop.abort('SIGINT') });
    expect(record(resumed)).toMatchObject({ status: 'interrupted', step: 1 });
    const warnings: string[] = [];
    const rest = await trainCommand.runWith(['--resume', resumed], (line) => warnings.push(line));
    expect(rest).toMatchObject({ steps: 2, resumedFrom: 1, backend: { name: 'wasm', threads: 1 } });
    expect(warnings).toContain('resuming on wasm: steps 1–1 ran on cpu (backends agree within 1e-4, not bit for bit)');
    expect(record(resumed)).toMatchObject({ status: 'complete', backends: [{ name: 'cpu', fromStep: 0 }, { name: 'wasm', threads: 1, fromStep: 1 }] });

    const [expected, got] = [adapter(straight), adapter(resumed)];
    expect([...got.keys()]).toEqual([...expected.keys()]);
    let moved = 0;
    for (const [name, e] of expected) {
      const g = got.get(name)!;
      e.forEach((v, i) => {
        expect(Math.abs(g[i] - v)).toBeLessThan(1e-4);
        moved = Math.max(moved, Math.abs(v));
      });
    }
    // Two steps at lr 0.01 move the adapters (B starts at 0) far more than the tolerance.
    expect(moved).toBeGreaterThan(1e-3);
  });
});
