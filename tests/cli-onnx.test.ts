import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NODE_BACKEND, startNodeBackend } from '../scripts/lib/nodeBackend';
import { FIXTURE_MODELS, fixtureSource, nodeFolderSource } from '../scripts/lib/nodeModelSource';
import { splitSentences } from '../src/aspo';
import { loadClipScorer } from '../src/models/clip';
import { loadOnnxEngine } from '../src/models/onnx/engine';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { aspo } from './setup/aspoCli';

let dir: string;
let png: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aspo-cli-onnx-'));
  png = join(dir, 'picture.png');
  const pixels = new Uint8ClampedArray(40 * 30 * 3).map((_, i) => (i * 29 + (i % 7) * 11) % 256);
  await new RawImage(pixels, 40, 30, 3).save(png);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface PrintedToken {
  id: number;
  text: string;
  start: number;
  end: number;
  logp: number;
}
interface Printed {
  inputIds: number[];
  responseStart: number;
  tokens: PrintedToken[];
  total: number;
  backend: { name: string; threads?: number };
}

describe('npm run aspo -- logprobs --engine onnx', () => {
  it('prints the JSON of the TF.js engine (same keys, ids, offsets), with the ONNX engine’s log-probs', async () => {
    const model = join(FIXTURE_MODELS, 'tiny-smolvlm');
    const args = ['logprobs', '--model', model, '--image', png, '--prompt', 'Colour?', '--response', 'Red. Quite red.', '--response', 'Blue!'];
    const [onnxRun, tfjsRun] = [await aspo([...args, '--engine', 'onnx']), await aspo(args)];
    expect(onnxRun.code, onnxRun.stderr).toBe(0);
    expect(tfjsRun.code, tfjsRun.stderr).toBe(0);
    const viaOnnx = JSON.parse(onnxRun.stdout) as Printed[];
    const viaTfjs = JSON.parse(tfjsRun.stdout) as Printed[];
    expect(viaOnnx).toHaveLength(2);
    viaOnnx.forEach((r, i) => {
      expect(Object.keys(r).sort()).toEqual(Object.keys(viaTfjs[i]).sort());
      expect(r.backend).toEqual({ name: 'onnxruntime-node' });
      expect(viaTfjs[i].backend).toEqual({ name: 'wasm', threads: 1 });
      expect(r.inputIds).toEqual(viaTfjs[i].inputIds);
      expect(r.responseStart).toBe(viaTfjs[i].responseStart);
      expect(r.tokens.map(({ logp: _l, ...t }) => t)).toEqual(viaTfjs[i].tokens.map(({ logp: _l, ...t }) => t));
      r.tokens.forEach((t, k) => expect(Math.abs(t.logp - viaTfjs[i].tokens[k].logp)).toBeLessThan(1e-4));
    });

    const engine = await loadOnnxEngine(fixtureSource('tiny-smolvlm'), { device: 'cpu' });
    const direct = await engine.logprobs({ prompt: 'Colour?', responses: ['Red. Quite red.', 'Blue!'], image: await RawImage.read(png) });
    engine.dispose();
    viaOnnx.forEach((r, i) => {
      r.tokens.forEach((t, k) => expect(t.logp).toBeCloseTo(direct[i].tokens[k].logp, 10));
      expect(r.total).toBeCloseTo(direct[i].total, 10);
    });

    await startNodeBackend(DEFAULT_NODE_BACKEND);
    const tfjs = await loadTfjsEngine(fixtureSource('tiny-smolvlm'));
    const [alone] = await tfjs.logprobs({ prompt: 'Colour?', responses: ['Blue!'], image: await RawImage.read(png) });
    tfjs.dispose();
    expect(viaTfjs[1].inputIds).toEqual(alone.inputIds);
  });

  it('an unknown engine exits 2 with the usage', async () => {
    const bad = await aspo(['logprobs', '--model', join(FIXTURE_MODELS, 'tiny-smolvlm'), '--prompt', 'x', '--response', 'y', '--engine', 'torch']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--engine must be tfjs or onnx, got "torch"');
    expect(bad.stderr).toContain('similarity --clip DIR --image PNG --text TEXT');
  });
});

describe('npm run aspo -- similarity', () => {
  it('prints every sentence with its span, its CLIP similarity and the truncation flag, as the scorer computes them', async () => {
    const text = 'A red circle is on the left. The image shows a red circle on the left and a blue square on the right, above a line. Two cats.';
    const clip = join(FIXTURE_MODELS, 'tiny-clip');
    const { code, stdout, stderr } = await aspo(['similarity', '--clip', clip, '--image', png, '--text', text]);
    expect(code, stderr).toBe(0);
    const printed = JSON.parse(stdout) as { sentences: { text: string; start: number; end: number; similarity: number; truncated: boolean }[]; backend: unknown };
    expect(Object.keys(printed)).toEqual(['sentences', 'backend']);
    expect(printed.backend).toEqual({ name: 'onnxruntime-node' });
    const spans = splitSentences(text);
    expect(spans).toHaveLength(3);
    expect(printed.sentences.map(({ text: t, start, end }) => ({ text: t, start, end }))).toEqual(spans);
    for (const s of printed.sentences) expect(text.slice(s.start, s.end)).toBe(s.text);
    expect(printed.sentences.map((s) => s.truncated)).toEqual([false, true, false]);

    const scorer = await loadClipScorer(nodeFolderSource(clip), { device: 'cpu' });
    const direct = await scorer.similarity(await RawImage.read(png), spans.map((s) => s.text));
    scorer.dispose();
    printed.sentences.forEach((s, i) => {
      expect(s.similarity).toBeCloseTo(direct[i].similarity, 10);
      expect(s.truncated).toBe(direct[i].truncated);
    });
    expect(new Set(printed.sentences.map((s) => s.similarity.toFixed(6))).size).toBe(3);
  });

  it('a missing option exits 2; a model that is not a CLIP exits 1 saying so', async () => {
    const missing = await aspo(['similarity', '--clip', join(FIXTURE_MODELS, 'tiny-clip'), '--image', png]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--text is required');
    const notClip = await aspo(['similarity', '--clip', join(FIXTURE_MODELS, 'tiny-smollm2'), '--image', png, '--text', 'Hi.']);
    expect(notClip.code).toBe(1);
    expect(notClip.stderr).toContain('is not a CLIP model');
  });
});
