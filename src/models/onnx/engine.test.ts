import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { weightsAsStored } from '../../../scripts/tiny-models/common';
import { startModelMirror, type ModelMirror } from '../../../scripts/lib/modelMirror';
import { FIXTURE_MODELS, fixtureSource, nodeFolderSource } from '../../../scripts/lib/nodeModelSource';
import { llamaRef, type Idefics3RefConfig } from '../../../tests/onnx/reference';
import { cutNotice, type ResponseLogprobs } from '../engine';
import { longResponse } from '../teacherForcing.testutil';
import { hubSource, memoryCache, type TotalProgress } from '../sources';
import { loadTfjsEngine, type TfjsEngine } from '../tfjs/engine';
import { checkOnnxFile } from '../transformersEnv';
import { loadOnnxEngine, onnxFileNames, withDeviceFallback, type OnnxEngine } from './engine';
import { squareImage } from '../../../tests/setup/images';
import { useTestBackend } from '../../../tests/setup/testBackend';

beforeAll(useTestBackend);

/** The measured agreement is ~5e-7; the issue asks for 1e-3. */
const TOL = 1e-4;

const PROMPT = 'What is in the picture?';
const RESPONSES = ['A red square. It sits on blue ground, 3 cm wide.', 'A green circle!'];

let tfjs: TfjsEngine;
let onnx: OnnxEngine;
let tmp: string;

beforeAll(async () => {
  tfjs = await loadTfjsEngine(fixtureSource('tiny-smolvlm'));
  onnx = await loadOnnxEngine(fixtureSource('tiny-smolvlm'), { device: 'cpu' });
  tmp = mkdtempSync(join(tmpdir(), 'onnx-engine-'));
});

afterAll(() => {
  tfjs.dispose();
  onnx.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

function maxLogpDiff(a: ResponseLogprobs[], b: ResponseLogprobs[]): number {
  let m = 0;
  a.forEach((r, i) => r.tokens.forEach((t, k) => (m = Math.max(m, Math.abs(t.logp - b[i].tokens[k].logp)))));
  return m;
}

function withoutLogp(r: ResponseLogprobs[]) {
  return r.map(({ total: _total, tokens, ...rest }) => ({ ...rest, tokens: tokens.map(({ logp: _logp, ...t }) => t) }));
}

describe('ONNX engine vs TF.js engine on tiny-smolvlm (same weights)', () => {
  it('runs on the CPU in Node with no fallback', () => {
    expect(onnx.kind).toBe('onnx');
    expect(onnx.device).toBe('cpu');
    expect(onnx.fallbackReason).toBeNull();
  });

  for (const withImage of [false, true]) {
    it(`gives the same ids, offsets and per-token log-probs ${withImage ? 'with' : 'without'} an image, two responses in a batch`, async () => {
      const request = { prompt: PROMPT, responses: RESPONSES, image: withImage ? squareImage() : undefined };
      const a = await tfjs.logprobs(request);
      const b = await onnx.logprobs(request);
      expect(b).toHaveLength(2);
      expect(withoutLogp(b)).toEqual(withoutLogp(a));
      // The two responses have different lengths, so the shorter one is padded in the batch.
      expect(b[0].tokens.length).not.toBe(b[1].tokens.length);
      const diff = maxLogpDiff(a, b);
      expect(diff).toBeLessThan(TOL);
      b.forEach((r, i) => expect(r.total).toBeCloseTo(a[i].total, 3));
      for (const r of b) {
        expect(r.total).toBeCloseTo(r.tokens.reduce((s, t) => s + t.logp, 0), 10);
        expect(r.tokens[r.eosIndex].id).toBe(onnx.format.endOfTurnId);
      }
      if (withImage) expect(b[0].inputIds.filter((id) => id === onnx.imageTokenId)).toHaveLength(4);
    });
  }

  it('the comparison is sensitive: the image changes the log-probs by far more than the tolerance', async () => {
    const plain = await onnx.logprobs({ prompt: PROMPT, responses: [RESPONSES[0]] });
    const seeing = await onnx.logprobs({ prompt: PROMPT, responses: [RESPONSES[0]], image: squareImage() });
    const a = plain[0].tokens.map((t) => t.logp);
    const b = seeing[0].tokens.map((t) => t.logp);
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i])))).toBeGreaterThan(100 * TOL);
  });

  it('a response scored in a padded batch gets the same log-probs as scored alone', async () => {
    const batch = await onnx.logprobs({ prompt: PROMPT, responses: RESPONSES, image: squareImage() });
    for (let i = 0; i < RESPONSES.length; i++) {
      const [alone] = await onnx.logprobs({ prompt: PROMPT, responses: [RESPONSES[i]], image: squareImage() });
      expect(maxLogpDiff([alone], [batch[i]])).toBeLessThan(1e-5);
    }
  });

  it('equals a float64 reference forward from model.safetensors (text only)', async () => {
    const [r] = await onnx.logprobs({ prompt: PROMPT, responses: [RESPONSES[1]] });
    const dir = join(FIXTURE_MODELS, 'tiny-smolvlm');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Idefics3RefConfig;
    const weights = weightsAsStored(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors');
    const ids = r.inputIds;
    const T = ids.length;
    const D = config.text_config.hidden_size;
    const V = config.text_config.vocab_size;
    const table = weights.get('model.text_model.embed_tokens.weight')!.data;
    const embeds = Float64Array.from(ids.flatMap((id) => Array.from(table.subarray(id * D, (id + 1) * D))));
    const { logits } = llamaRef(config, weights, embeds, 1, T, new Array(T).fill(1), [...Array(T).keys()]);
    const expected = r.tokens.map((tok, k) => {
      const row = logits.subarray((r.responseStart + k - 1) * V, (r.responseStart + k) * V);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      return row[tok.id] - lse;
    });
    const got = r.tokens.map((t) => t.logp);
    expect(Math.max(...got.map((x, i) => Math.abs(x - expected[i])))).toBeLessThan(TOL);
  });

  for (const withImage of [false, true]) {
    it(`greedy generation gives the TF.js engine's tokens ${withImage ? 'with' : 'without'} an image, streamed in order`, async () => {
      const request = { prompt: 'Describe the picture.', maxNewTokens: 10, image: withImage ? squareImage() : undefined };
      const expected = await tfjs.generate(request);
      const streamed: number[] = [];
      const got = await onnx.generate({ ...request, onToken: (t) => streamed.push(t.id) });
      expect(got.ids).toEqual(expected.ids);
      expect(got.stop).toBe(expected.stop);
      expect(got.text).toBe(expected.text);
      expect(streamed).toEqual(got.ids);
      expect(got.ids).toHaveLength(10);
    });
  }

  it('seeded sampling with temperature and top-p picks the same tokens as the TF.js engine, and the seed matters', async () => {
    const request = { prompt: 'Describe the picture.', maxNewTokens: 8, greedy: false, temperature: 1.5, topP: 0.9 };
    const expected = await tfjs.generate({ ...request, seed: 7 });
    const got = await onnx.generate({ ...request, seed: 7 });
    expect(got.ids).toEqual(expected.ids);
    const other = await onnx.generate({ ...request, seed: 8 });
    expect(other.ids).not.toEqual(got.ids);
  });

  it('stops on abort, and on the end-of-turn token', async () => {
    const controller = new AbortController();
    const got = await onnx.generate({
      prompt: 'Describe the picture.',
      maxNewTokens: 10,
      signal: controller.signal,
      onToken: (t) => {
        if (t.id >= 0 && !controller.signal.aborted) controller.abort();
      },
    });
    expect(got).toMatchObject({ stop: 'aborted' });
    expect(got.ids).toHaveLength(1);
    const pre = new AbortController();
    pre.abort();
    expect(await onnx.generate({ prompt: 'x', maxNewTokens: 3, signal: pre.signal })).toEqual({ ids: [], text: '', stop: 'aborted' });

    // A random model rarely says the end-of-turn token, so declare its first greedy token the end of turn.
    const free = await onnx.generate({ prompt: 'Describe the picture.', maxNewTokens: 3 });
    expect(free.stop).toBe('length');
    const format = onnx.format as { endOfTurnId: number };
    const original = format.endOfTurnId;
    format.endOfTurnId = free.ids[0];
    try {
      const stopped = await onnx.generate({ prompt: 'Describe the picture.', maxNewTokens: 10 });
      expect(stopped.stop).toBe('eos');
      expect(stopped.ids).toEqual([free.ids[0]]);
    } finally {
      format.endOfTurnId = original;
    }
  });
});

describe('long input: cut to the model window before any run, and a failed run leaves a working engine', () => {
  // About 1,240 tokens on the tiny tokenizer; the tiny models read 512 positions (config.json).
  const LONG = longResponse(60);

  it('both engines score only what fits in max_position_embeddings, say what was cut, and agree', async () => {
    expect(onnx.contextLength).toBe(512);
    expect(tfjs.contextLength).toBe(512);
    const request = { prompt: PROMPT, responses: [LONG, RESPONSES[1]], image: squareImage() };
    const a = await tfjs.logprobs(request);
    const b = await onnx.logprobs(request);
    for (const r of [a[0], b[0]]) {
      expect(r.inputIds).toHaveLength(512);
      expect(r.fullLength).toBeGreaterThan(1200);
      expect(r.tokens).toHaveLength(512 - r.responseStart);
      expect(r.eosIndex).toBe(-1);
      expect(cutNotice('chosen response', r)).toBe(
        `chosen response: only the first ${512 - r.responseStart} of its ${r.fullLength} tokens were scored, ${r.fullLength - 512 + r.responseStart} cut ` +
          `(the model's window (max_position_embeddings in config.json) is 512 tokens and the prompt takes ${r.responseStart}).`,
      );
    }
    for (const r of [a[1], b[1]]) {
      expect(r.cut).toBeNull();
      expect(cutNotice('rejected response', r)).toBeNull();
    }
    expect(maxLogpDiff(a, b)).toBeLessThan(TOL);
    // Causal attention: the kept tokens have the log-probs they have when only the text they cover is scored.
    const cover = LONG.slice(0, b[0].tokens[300].start);
    const [short] = await onnx.logprobs({ prompt: PROMPT, responses: [cover], image: squareImage() });
    expect(maxLogpDiff([{ ...short, tokens: short.tokens.slice(0, 290) }], [b[0]])).toBeLessThan(1e-5);
  });

  it('a prompt that fills the window is refused in words before any run; generation stops at the window', async () => {
    const prompt = longResponse(40);
    for (const engine of [tfjs, onnx]) {
      await expect(engine.logprobs({ prompt, responses: ['A bus.'] })).rejects.toThrow(
        /tiny-smolvlm: the prompt \(with its image\) takes \d+ tokens, but the model's window \(max_position_embeddings in config.json\) is 512 tokens, so no response fits/,
      );
    }
    const nearlyFull = longResponse(20);
    const [{ responseStart: promptTokens }] = await onnx.logprobs({ prompt: nearlyFull, responses: ['A'] });
    for (const engine of [tfjs, onnx]) {
      const got = await engine.generate({ prompt: nearlyFull, maxNewTokens: 10_000 });
      expect(got.stop).toBe('length');
      expect(got.ids).toHaveLength(512 - promptTokens);
    }
  });

  it('after a run fails on broken sessions, the engine rebuilds them and the next call gives the same numbers', async () => {
    const request = { prompt: PROMPT, responses: RESPONSES, image: squareImage() };
    const before = await onnx.logprobs(request);
    // Release the sessions under the engine, as a failed run can leave them.
    await onnx.model.dispose();
    await expect(onnx.logprobs({ ...request, image: undefined })).rejects.toThrow(/tiny-smolvlm: ONNX Runtime failed .*the model's sessions were rebuilt/);
    const after = await onnx.logprobs(request);
    expect(maxLogpDiff(after, before)).toBe(0);
  });
});

describe('ONNX engine memory', () => {
  it('disposes every present.* and logits output of every forward, and keeps one cached image feature', async () => {
    const model = onnx.model as unknown as { forward: (x: unknown) => Promise<Record<string, Tensor>> };
    const original = model.forward;
    const spies: { name: string; spy: ReturnType<typeof vi.fn> }[] = [];
    model.forward = async (inputs: unknown) => {
      const out = await original.call(onnx.model, inputs);
      for (const [name, t] of Object.entries(out)) {
        const dispose = t.dispose.bind(t);
        const spy = vi.fn(() => dispose());
        t.dispose = spy;
        spies.push({ name, spy });
      }
      return out;
    };
    try {
      for (let i = 0; i < 3; i++) await onnx.logprobs({ prompt: PROMPT, responses: RESPONSES, image: squareImage() });
      await onnx.generate({ prompt: PROMPT, maxNewTokens: 4, image: squareImage() });
    } finally {
      model.forward = original;
    }
    // 3 scoring forwards + 4 generation steps, each with logits and 2 layers × (key, value).
    expect(spies.length).toBe(7 * 5);
    expect(spies.filter((s) => s.name.startsWith('present.')).length).toBe(7 * 4);
    for (const { name, spy } of spies) expect(spy, name).toHaveBeenCalled();
    const cache = (onnx as unknown as { featureCache: Map<string, unknown> }).featureCache;
    expect(cache.size).toBe(1);
  });
});

describe('loading', () => {
  it('loads through the hub code path from a local mirror with progress, and a second load makes no request', async () => {
    let mirror: ModelMirror | null = null;
    try {
      mirror = await startModelMirror(FIXTURE_MODELS);
      const cache = memoryCache();
      const progress: TotalProgress[] = [];
      const hub = await loadOnnxEngine(hubSource('test-org/tiny-smolvlm', { endpoint: mirror.url, cache }), {
        device: 'cpu',
        onProgress: (p) => progress.push(p),
      });
      const expected = await onnx.logprobs({ prompt: PROMPT, responses: RESPONSES, image: squareImage() });
      expect(await hub.logprobs({ prompt: PROMPT, responses: RESPONSES, image: squareImage() })).toEqual(expected);
      hub.dispose();
      await expect(hub.logprobs({ prompt: PROMPT, responses: RESPONSES })).rejects.toThrow(/disposed/);
      const last = progress[progress.length - 1];
      expect(last.filesTotal).toBe(3);
      expect(last.filesDone).toBe(3);
      expect(last.loaded).toBe(last.total);
      const onDisk = onnxFileNames('idefics3').reduce((s, f) => s + readFileSync(join(FIXTURE_MODELS, 'tiny-smolvlm', f)).length, 0);
      expect(last.total).toBe(onDisk);
      expect(mirror.hits.some((h) => h.endsWith('/onnx/decoder_model_merged.onnx'))).toBe(true);
      const before = mirror.hits.length;
      const again = await loadOnnxEngine(hubSource('test-org/tiny-smolvlm', { endpoint: mirror.url, cache }), { device: 'cpu' });
      again.dispose();
      expect(mirror.hits.slice(before)).toEqual([]);
    } finally {
      await mirror?.close();
    }
  });

  function brokenCopy(name: string, breakIt: (dir: string) => void): string {
    const dir = join(tmp, name, 'tiny-smolvlm');
    cpSync(join(FIXTURE_MODELS, 'tiny-smolvlm'), dir, { recursive: true });
    breakIt(dir);
    return dir;
  }

  it('a missing ONNX file is named', async () => {
    const dir = brokenCopy('missing', (d) => unlinkSync(join(d, 'onnx', 'decoder_model_merged.onnx')));
    await expect(loadOnnxEngine(nodeFolderSource(dir), { device: 'cpu' })).rejects.toThrow(
      /folder tiny-smolvlm has no file onnx\/decoder_model_merged\.onnx/,
    );
  });

  it('a truncated ONNX file is named', async () => {
    const dir = brokenCopy('truncated', (d) => {
      const f = join(d, 'onnx', 'vision_encoder.onnx');
      const bytes = readFileSync(f);
      writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length / 2)));
    });
    await expect(loadOnnxEngine(nodeFolderSource(dir), { device: 'cpu' })).rejects.toThrow(
      /folder tiny-smolvlm: onnx\/vision_encoder\.onnx is not a usable ONNX model \(the file is truncated/,
    );
  });

  it('a quantized dtype asks for the suffixed files, and says which one is missing', async () => {
    expect(onnxFileNames('idefics3', { decoder_model_merged: 'q4' })).toEqual([
      'onnx/vision_encoder.onnx',
      'onnx/embed_tokens.onnx',
      'onnx/decoder_model_merged_q4.onnx',
    ]);
    const dir = brokenCopy('missing-q8', (d) => unlinkSync(join(d, 'onnx', 'vision_encoder_quantized.onnx')));
    await expect(loadOnnxEngine(nodeFolderSource(dir), { device: 'cpu', dtype: 'q8' })).rejects.toThrow(
      /has no file onnx\/vision_encoder_quantized\.onnx/,
    );
  });

  it('an unsupported architecture is refused in words', async () => {
    const dir = brokenCopy('arch', (d) => {
      const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
      writeFileSync(join(d, 'config.json'), JSON.stringify({ ...config, model_type: 'whisper' }));
    });
    await expect(loadOnnxEngine(nodeFolderSource(dir), { device: 'cpu' })).rejects.toThrow(/model type "whisper" is not supported/);
  });

  it('checkOnnxFile accepts every generated file and rejects every cut of one', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURE_MODELS, 'tiny-smolvlm', 'onnx', 'embed_tokens.onnx')));
    expect(() => checkOnnxFile(bytes, 'onnx/embed_tokens.onnx', 'm')).not.toThrow();
    for (const cut of [0, 1, 10, 100, 1000, bytes.length >> 1, bytes.length - 1]) {
      expect(() => checkOnnxFile(bytes.subarray(0, cut), 'onnx/embed_tokens.onnx', 'm'), String(cut)).toThrow(
        /m: onnx\/embed_tokens\.onnx is not a usable ONNX model/,
      );
    }
    expect(() => checkOnnxFile(new TextEncoder().encode('<!doctype html><html></html>'), 'x.onnx', 'm')).toThrow(/not a usable ONNX model/);
  });

  it('falls back from a failing WebGPU to WASM and says why; other devices fail with the described error', async () => {
    const tried: string[] = [];
    const result = await withDeviceFallback(
      'webgpu',
      async (d) => {
        tried.push(d);
        if (d === 'webgpu') throw new Error('no adapter found');
        return 42;
      },
      (e) => new Error(`described: ${(e as Error).message}`),
    );
    expect(tried).toEqual(['webgpu', 'wasm']);
    expect(result).toEqual({ value: 42, device: 'wasm', fallbackReason: expect.stringMatching(/WebGPU could not run this model \(no adapter found\)/) });
    await expect(
      withDeviceFallback('wasm', async () => Promise.reject(new Error('out of memory')), (e) => new Error(`described: ${(e as Error).message}`)),
    ).rejects.toThrow('described: out of memory');
  });
});
