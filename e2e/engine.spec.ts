/**
 * The TF.js engine in a real Chromium on WebGPU (harness.html), checked against the same engine run here, in the
 * Playwright process, on TF.js' CPU backend; and the hub loading path against a local mirror served by this test.
 */
import { test, expect, type Page } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import type { ResponseLogprobs } from '../src/models/engine';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { FIXTURE_MODELS, fixtureSource } from '../scripts/lib/nodeModelSource';
import type { ImagePixels } from '../src/harness/protocol';

const TOLERANCE = 1e-4;
const PROMPT = 'What is in the picture?';
const RESPONSES = ['A red circle on a blue square.', 'There is a cat.', 'Nothing!'];

/**
 * A deterministic 32×32 RGB image. 32 px is the tiny SmolVLM's `longest_edge`, so the processor's resize is the
 * identity on both sides (Chromium resizes through a canvas, Node through sharp; their resampling differs).
 */
function testImage(): ImagePixels {
  const width = 32;
  const height = 32;
  const data: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inCircle = (x - 12) ** 2 + (y - 14) ** 2 < 64;
      data.push(inCircle ? 220 : (x * 7) % 256, inCircle ? 30 : (y * 5) % 256, (x * y + 40) % 256);
    }
  }
  return { data, width, height, channels: 3 };
}

type Case = { name: string; model: 'tiny-smolvlm' | 'tiny-smollm2'; image: boolean };
const CASES: Case[] = [
  { name: 'tiny-smolvlm with an image', model: 'tiny-smolvlm', image: true },
  { name: 'tiny-smolvlm without an image', model: 'tiny-smolvlm', image: false },
  { name: 'tiny-smollm2', model: 'tiny-smollm2', image: false },
];

/** Log-probs computed here, in Node, on TF.js' CPU backend, from the fixture folders. */
const nodeReference = new Map<string, ResponseLogprobs[]>();

async function reference(c: Case): Promise<ResponseLogprobs[]> {
  const key = `${c.model}|${c.image}`;
  const hit = nodeReference.get(key);
  if (hit) return hit;
  await tf.setBackend('cpu');
  const engine = await loadTfjsEngine(fixtureSource(c.model));
  try {
    const px = testImage();
    const image = c.image ? new RawImage(Uint8ClampedArray.from(px.data), px.width, px.height, px.channels) : undefined;
    const out = await engine.logprobs({ prompt: PROMPT, responses: RESPONSES, image });
    nodeReference.set(key, out);
    return out;
  } finally {
    engine.dispose();
  }
}

function expectSameLogprobs(actual: ResponseLogprobs[], expected: ResponseLogprobs[], tolerance: number, what: string) {
  expect(actual.length, what).toBe(expected.length);
  for (let r = 0; r < expected.length; r++) {
    const a = actual[r];
    const e = expected[r];
    expect(a.inputIds, `${what}: input ids of response ${r}`).toEqual(e.inputIds);
    expect(a.responseStart, `${what}: responseStart of response ${r}`).toBe(e.responseStart);
    expect(a.eosIndex, `${what}: eosIndex of response ${r}`).toBe(e.eosIndex);
    expect(
      a.tokens.map(({ id, text, start, end }) => ({ id, text, start, end })),
      `${what}: tokens and offsets of response ${r}`,
    ).toEqual(e.tokens.map(({ id, text, start, end }) => ({ id, text, start, end })));
    for (let k = 0; k < e.tokens.length; k++) {
      const diff = Math.abs(a.tokens[k].logp - e.tokens[k].logp);
      expect(diff, `${what}: response ${r} token ${k} logp ${a.tokens[k].logp} vs ${e.tokens[k].logp}`).toBeLessThanOrEqual(tolerance);
    }
    expect(Math.abs(a.total - e.total), `${what}: total of response ${r}`).toBeLessThanOrEqual(tolerance * e.tokens.length);
  }
}

/** Guards against a comparison that passes trivially (e.g. all zeros from a failed GPU read). */
function expectMeaningful(results: ResponseLogprobs[]) {
  const logps = results.flatMap((r) => r.tokens.map((t) => t.logp));
  expect(logps.length).toBeGreaterThan(10);
  for (const v of logps) {
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeLessThan(0);
  }
  expect(new Set(logps.map((v) => v.toFixed(4))).size).toBeGreaterThan(logps.length / 2);
}

async function openHarness(page: Page) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/harness.html');
  await page.waitForFunction(() => window.aspoHarness !== undefined, null, { timeout: 60_000 });
  expect(errors).toEqual([]);
}

function browserLogprobs(page: Page, c: Case): Promise<ResponseLogprobs[]> {
  return page.evaluate(
    (args) => window.aspoHarness!.logprobs(args),
    { modelUrl: `/models/${c.model}`, prompt: PROMPT, responses: RESPONSES, imagePixels: c.image ? testImage() : undefined },
  );
}

test('the harness runs TF.js on WebGPU', async ({ page }) => {
  await openHarness(page);
  expect(await page.evaluate(() => window.aspoHarness!.backend())).toBe('webgpu');
  await expect(page.locator('#status')).toHaveAttribute('data-backend', 'webgpu');
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'ready');
  // A kernel really runs on the GPU and reads back: Σ xᵢ²·(i+1) over [1, 2, 3, 4] = 1 + 8 + 27 + 64.
  expect(await page.evaluate(() => window.aspoHarness!.probe())).toEqual({ backend: 'webgpu', value: 100 });
  // Switching backends works both ways, and the CPU gives the same number.
  expect(await page.evaluate(() => window.aspoHarness!.setBackend('cpu'))).toBe('cpu');
  expect(await page.evaluate(() => window.aspoHarness!.probe())).toEqual({ backend: 'cpu', value: 100 });
  expect(await page.evaluate(() => window.aspoHarness!.setBackend('webgpu'))).toBe('webgpu');
});

test('per-token log-probs in Chromium on WebGPU equal those in Node on the CPU backend', async ({ page }) => {
  test.setTimeout(240_000);
  await openHarness(page);
  expect(await page.evaluate(() => window.aspoHarness!.backend())).toBe('webgpu');
  for (const c of CASES) {
    const expected = await reference(c);
    expectMeaningful(expected);
    const actual = await browserLogprobs(page, c);
    expectSameLogprobs(actual, expected, TOLERANCE, c.name);
  }
  // The image is really used: with and without it, the same response scores differently.
  const withImage = await reference(CASES[0]);
  const without = await reference(CASES[1]);
  expect(withImage[0].inputIds.length).toBeGreaterThan(without[0].inputIds.length);
  expect(Math.abs(withImage[0].total - without[0].total)).toBeGreaterThan(1e-3);
});

// ---------------------------------------------------------------------------
// The hub code path, against a local mirror
// ---------------------------------------------------------------------------

/** Mirror ids → the fixture folder they serve, and files they lack. */
const MIRROR: Record<string, { folder: string; lacks: string[] }> = {
  'mirror/tiny-smolvlm': { folder: 'tiny-smolvlm', lacks: [] },
  'mirror/tiny-smollm2': { folder: 'tiny-smollm2', lacks: [] },
  'mirror/tiny-smolvlm-incomplete': { folder: 'tiny-smolvlm', lacks: ['model.safetensors'] },
};

interface Mirror {
  server: Server;
  endpoint: string;
  hits: string[];
}

async function startMirror(): Promise<Mirror> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', '*');
    res.setHeader('Access-Control-Expose-Headers', 'content-length');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hits.push(path);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(path);
    const repo = m ? MIRROR[m[1]] : undefined;
    const file = m?.[2] ?? '';
    const disk = repo ? join(FIXTURE_MODELS, repo.folder, file) : '';
    if (!repo || file.includes('..') || repo.lacks.includes(file) || !existsSync(disk)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    const body = readFileSync(disk);
    res
      .writeHead(200, {
        'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        'content-length': String(body.length),
      })
      .end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the mirror has no port');
  return { server, endpoint: `http://127.0.0.1:${address.port}`, hits };
}

let mirror: Mirror;
test.beforeAll(async () => {
  mirror = await startMirror();
});
test.afterAll(async () => {
  await new Promise<void>((resolve) => mirror.server.close(() => resolve()));
});

function hubLogprobs(page: Page, id: string, image: boolean) {
  return page.evaluate(
    (args) => window.aspoHarness!.logprobsFromHub(args),
    { endpoint: mirror.endpoint, id, prompt: PROMPT, responses: RESPONSES, imagePixels: image ? testImage() : undefined },
  );
}

test('the ONNX engine in Chromium gives the TF.js engine\'s per-token log-probs within 1e-3, with and without an image', async ({ page }) => {
  test.setTimeout(240_000);
  await openHarness(page);
  for (const image of [false, true]) {
    const args = { modelUrl: '/models/tiny-smolvlm', prompt: PROMPT, responses: RESPONSES, imagePixels: image ? testImage() : undefined };
    const tfjs = await page.evaluate((a) => window.aspoHarness!.logprobs({ ...a, engine: 'tfjs' }), args);
    const onnx = await page.evaluate((a) => window.aspoHarness!.logprobs({ ...a, engine: 'onnx' }), args);
    expectMeaningful(onnx);
    expectSameLogprobs(onnx, tfjs, 1e-3, `ONNX vs TF.js in Chromium${image ? ', with an image' : ''}`);
  }
});

test('a hub model loads from the mirror once, then from Cache Storage after a reload with no request', async ({ page }) => {
  test.setTimeout(240_000);
  const requests: string[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(mirror.endpoint)) requests.push(r.url());
  });
  await openHarness(page);
  await page.evaluate(() => window.aspoHarness!.clearModelCache());

  const hitsBefore = mirror.hits.length;
  const first = await hubLogprobs(page, 'mirror/tiny-smolvlm', true);
  const firstRequests = [...requests];
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json']) {
    expect(firstRequests, `the first load downloads ${file}`).toContain(`${mirror.endpoint}/mirror/tiny-smolvlm/resolve/main/${file}`);
  }
  expect(mirror.hits.length - hitsBefore).toBe(firstRequests.length);
  expect(first.fromCache).toMatchObject({ 'config.json': false, 'model.safetensors': false });
  expect(Object.values(first.fromCache).every((hit) => !hit), 'nothing came from the cache the first time').toBe(true);
  expectSameLogprobs(first.results, await reference(CASES[0]), TOLERANCE, 'hub, first load');

  requests.length = 0;
  const hitsAfterFirst = mirror.hits.length;
  await page.reload();
  await page.waitForFunction(() => window.aspoHarness !== undefined, null, { timeout: 60_000 });
  const second = await hubLogprobs(page, 'mirror/tiny-smolvlm', true);
  expect(requests, 'the second load makes no request to the mirror').toEqual([]);
  expect(mirror.hits.length).toBe(hitsAfterFirst);
  expect(second.fromCache).toMatchObject({ 'config.json': true, 'model.safetensors': true });
  expect(Object.values(second.fromCache).every((hit) => hit), 'everything came from the cache the second time').toBe(true);
  expectSameLogprobs(second.results, first.results, 1e-6, 'hub, second load vs first');
});

test('a model folder without model.safetensors fails with a message naming the file and HTTP 404, and the page keeps working', async ({ page }) => {
  test.setTimeout(180_000);
  const statuses: { url: string; status: number }[] = [];
  page.on('response', (r) => {
    if (r.url().startsWith(mirror.endpoint)) statuses.push({ url: r.url(), status: r.status() });
  });
  await openHarness(page);
  const failure = await page.evaluate(
    (args) =>
      window.aspoHarness!.logprobsFromHub(args).then(
        () => null,
        (e: Error & { file?: string; status?: number; reason?: string }) => ({
          name: e.name,
          message: e.message,
          file: e.file,
          status: e.status,
          reason: e.reason,
        }),
      ),
    { endpoint: mirror.endpoint, id: 'mirror/tiny-smolvlm-incomplete', prompt: PROMPT, responses: RESPONSES },
  );
  expect(failure, 'loading an incomplete model fails').not.toBeNull();
  expect(failure!.name).toBe('ModelFileError');
  expect(failure!.message).toContain('model.safetensors');
  expect(failure!.message).toContain('HTTP 404');
  expect(failure!.message).toContain('mirror/tiny-smolvlm-incomplete');
  expect(failure!).toMatchObject({ file: 'model.safetensors', status: 404, reason: 'missing' });
  expect(statuses).toContainEqual({
    url: `${mirror.endpoint}/mirror/tiny-smolvlm-incomplete/resolve/main/model.safetensors`,
    status: 404,
  });
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'ready');
  await expect(page.locator('#status')).toContainText('model.safetensors');

  // The page keeps working: a valid hub model and a bundled one both load and score as in Node.
  const ok = await hubLogprobs(page, 'mirror/tiny-smollm2', false);
  expectSameLogprobs(ok.results, await reference(CASES[2]), TOLERANCE, 'hub tiny-smollm2 after the failure');
  expectSameLogprobs(await browserLogprobs(page, CASES[1]), await reference(CASES[1]), TOLERANCE, 'bundled tiny-smolvlm after the failure');
});
