/**
 * Cross-origin isolation (vite.config.ts sends COOP same-origin and COEP credentialless): the app page and its
 * training worker are isolated, so TF.js' WASM backend and ONNX Runtime's WebAssembly run on several threads; WASM's
 * log-probs equal the CPU backend's; a hub mirror on another origin still downloads. Then the same app through a
 * proxy that drops the two headers: not isolated, one thread each, everything still works (docs/hosting.md says
 * so). And in a Chromium without WebGPU and WebGL, the header says WASM runs, on how many threads, and why.
 */
import { test, expect, chromium, type Page } from '@playwright/test';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHROMIUM_FLAGS, findChromium } from '../scripts/lib/chromium';
import { ISOLATION_HEADERS } from '../scripts/lib/isolationHeaders';
import { FIXTURE_MODELS } from '../scripts/lib/nodeModelSource';
import { startModelMirror } from '../scripts/lib/modelMirror';
import type { ResponseLogprobs } from '../src/models/engine';
import type { ImagePixels, IsolationInfo, LogprobsArgs } from '../src/harness/protocol';

const TOLERANCE = 1e-4;
const PROMPT = 'What is in the picture?';
const RESPONSES = ['A red circle on a blue square.', 'There is a cat.'];
// src/tf/backend.ts and src/models/transformersEnv.ts: one thread per logical core, up to these.
const TFJS_MAX_THREADS = 8;
const ORT_MAX_THREADS = 4;
/** ONNX Runtime's pthread workers load its threaded glue by URL (TF.js' start from blob: URLs). */
const ORT_WORKER = /\/assets\/ort-wasm-simd-threaded[\w.-]*\.mjs$/;

/** A 32×32 RGB image (the tiny SmolVLM's longest edge, so no resize). */
function testImage(): ImagePixels {
  const data: number[] = [];
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) data.push((x * 7) % 256, (y * 5) % 256, (x * y + 40) % 256);
  return { data, width: 32, height: 32, channels: 3 };
}

async function openHarness(page: Page, origin = '') {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/harness.html`);
  await page.waitForFunction(() => window.aspoHarness !== undefined, null, { timeout: 60_000 });
  expect(errors).toEqual([]);
}

const isolation = (page: Page): Promise<IsolationInfo> => page.evaluate(() => window.aspoHarness!.isolation());

async function logprobsOn(page: Page, backend: 'wasm' | 'cpu', args: LogprobsArgs): Promise<ResponseLogprobs[]> {
  expect(await page.evaluate((b) => window.aspoHarness!.setBackend(b), backend)).toBe(backend);
  return page.evaluate((a) => window.aspoHarness!.logprobs(a), args);
}

function expectSameLogprobs(actual: ResponseLogprobs[], expected: ResponseLogprobs[], tolerance: number, what: string) {
  expect(actual.map((r) => r.inputIds), `${what}: input ids`).toEqual(expected.map((r) => r.inputIds));
  const logps = expected.flatMap((r) => r.tokens.map((t) => t.logp));
  // Not a comparison that passes trivially: real, varied log-probabilities.
  expect(logps.length).toBeGreaterThan(10);
  for (const v of logps) expect(v).toBeLessThan(0);
  expect(new Set(logps.map((v) => v.toFixed(4))).size).toBeGreaterThan(logps.length / 2);
  expected.forEach((e, r) =>
    e.tokens.forEach((t, k) =>
      expect(Math.abs(actual[r].tokens[k].logp - t.logp), `${what}: response ${r} token ${k}`).toBeLessThanOrEqual(tolerance),
    ),
  );
}

/** The app on another origin, through a proxy that drops the isolation headers: a static host that cannot set them. */
async function startHeaderlessProxy(target: string): Promise<{ server: Server; origin: string }> {
  const dropped = new Set(Object.keys(ISOLATION_HEADERS).map((h) => h.toLowerCase()));
  const server = createServer((req, res) => {
    const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
      const headers = Object.fromEntries(Object.entries(up.headers).filter(([name]) => !dropped.has(name)));
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test.describe.configure({ timeout: 240_000 });

test('the app and its training worker are cross-origin isolated', async ({ page }) => {
  const response = await page.goto('/');
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) expect(response?.headers()[name.toLowerCase()], name).toBe(value);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('train-backend')).toHaveAttribute('data-backend', /.+/, { timeout: 60_000 });
  const trainer = page.workers().find((w) => w.url().includes('/assets/') && !ORT_WORKER.test(w.url()));
  expect(trainer, `the training worker among ${page.workers().map((w) => w.url()).join(', ')}`).toBeDefined();
  expect(await trainer!.evaluate(() => self.crossOriginIsolated)).toBe(true);
});

test('TF.js WASM runs on one thread per core in the isolated page and gives the CPU backend\'s log-probs within 1e-4', async ({ page }) => {
  await openHarness(page);
  expect(await isolation(page)).toMatchObject({ crossOriginIsolated: true, tfjsWasm: null });
  const cases: LogprobsArgs[] = [
    { modelUrl: '/models/tiny-smolvlm', prompt: PROMPT, responses: RESPONSES, imagePixels: testImage() },
    { modelUrl: '/models/tiny-smollm2', prompt: PROMPT, responses: RESPONSES },
  ];
  for (const args of cases) {
    const cpu = await logprobsOn(page, 'cpu', args);
    const wasm = await logprobsOn(page, 'wasm', args);
    expectSameLogprobs(wasm, cpu, TOLERANCE, `WASM vs CPU, ${args.modelUrl}${args.imagePixels ? ' with an image' : ''}`);
  }
  const info = await isolation(page);
  expect(info.hardwareConcurrency).toBeGreaterThanOrEqual(2);
  expect(info.tfjsWasm).toEqual({ threads: Math.min(TFJS_MAX_THREADS, info.hardwareConcurrency), simd: true, crossOriginIsolated: true });
});

test('ONNX Runtime runs its WebAssembly on several threads in the isolated page', async ({ page }) => {
  const ortWorkers: string[] = [];
  page.on('worker', (w) => {
    if (ORT_WORKER.test(w.url())) ortWorkers.push(w.url());
  });
  await openHarness(page);
  const onnx = await page.evaluate(
    (a) => window.aspoHarness!.logprobs(a),
    { modelUrl: '/models/tiny-smolvlm', prompt: PROMPT, responses: RESPONSES, engine: 'onnx' as const },
  );
  expect(onnx[0].tokens.length).toBeGreaterThan(3);
  const info = await isolation(page);
  expect(info.onnxThreads).toBe(Math.min(ORT_MAX_THREADS, info.hardwareConcurrency));
  expect(info.onnxThreads).toBeGreaterThan(1);
  // ONNX Runtime starts numThreads − 1 workers (the calling thread is the last one): it really runs threaded.
  expect(ortWorkers.length).toBe(info.onnxThreads! - 1);
});

test('under COEP credentialless a hub mirror on another origin still downloads, and gives the bundled copy\'s numbers', async ({ page }) => {
  const mirror = await startModelMirror(FIXTURE_MODELS);
  try {
    await openHarness(page);
    expect(await page.evaluate(() => window.aspoHarness!.setBackend('wasm'))).toBe('wasm');
    await page.evaluate(() => window.aspoHarness!.clearModelCache());
    const args = { prompt: PROMPT, responses: RESPONSES, imagePixels: testImage() };
    const hub = await page.evaluate((a) => window.aspoHarness!.logprobsFromHub(a), { ...args, endpoint: mirror.url, id: 'test-org/tiny-smolvlm' });
    expect(hub.fromCache['model.safetensors']).toBe(false);
    expect(mirror.hits).toContain('/test-org/tiny-smolvlm/resolve/main/model.safetensors');
    const bundled = await page.evaluate((a) => window.aspoHarness!.logprobs(a), { ...args, modelUrl: '/models/tiny-smolvlm' });
    expectSameLogprobs(hub.results, bundled, 0, 'hub mirror vs bundled');
    expect((await isolation(page)).crossOriginIsolated).toBe(true);
  } finally {
    await mirror.close();
  }
});

test('served without the two headers (a static host that cannot set them), everything works on one thread', async ({ page, baseURL }) => {
  const proxy = await startHeaderlessProxy(baseURL!);
  try {
    const response = await page.goto(`${proxy.origin}/`);
    expect(response?.headers()['cross-origin-embedder-policy']).toBeUndefined();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    await expect(page.getByTestId('backend')).toHaveAttribute('data-backend', /.+/, { timeout: 60_000 });

    await openHarness(page, proxy.origin);
    const args: LogprobsArgs = { modelUrl: '/models/tiny-smolvlm', prompt: PROMPT, responses: RESPONSES, imagePixels: testImage() };
    const cpu = await logprobsOn(page, 'cpu', args);
    const wasm = await logprobsOn(page, 'wasm', args);
    expectSameLogprobs(wasm, cpu, TOLERANCE, 'WASM vs CPU, not isolated');
    const onnx = await page.evaluate((a) => window.aspoHarness!.logprobs({ ...a, engine: 'onnx' }), args);
    expect(onnx[0].tokens.length).toBeGreaterThan(3);
    expect(await isolation(page)).toMatchObject({
      crossOriginIsolated: false,
      tfjsWasm: { threads: 1, simd: true, crossOriginIsolated: false },
      onnxThreads: 1,
    });
  } finally {
    await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
  }
});

test('without WebGPU and WebGL the header and the worker say WASM runs, on how many threads, and why', async ({ baseURL }) => {
  // No SwiftShader adapter for WebGPU, and no GPU process at all (so no WebGL, not even a software one).
  const args = [...CHROMIUM_FLAGS.filter((f) => !/webgpu|Vulkan/i.test(f)), '--disable-gpu', '--disable-software-rasterizer'];
  const browser = await chromium.launch({ executablePath: findChromium(), args });
  try {
    const page = await browser.newPage();
    await page.goto(baseURL!);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const threads = Math.min(TFJS_MAX_THREADS, cores);
    const header = page.getByTestId('backend');
    await expect(header).toHaveAttribute('data-backend', 'wasm', { timeout: 60_000 });
    await expect(header).toContainText(`wasm, ${threads} thread${threads === 1 ? '' : 's'}, SIMD on`);
    await expect(header).toContainText('webgpu — navigator.gpu.requestAdapter() returned no adapter');
    await expect(header).toContainText('webgl — this browser gives no WebGL context');
    await page.getByTestId('tab-train').click();
    const worker = page.getByTestId('train-backend');
    await expect(worker).toHaveAttribute('data-backend', 'wasm', { timeout: 60_000 });
    await expect(worker).toContainText(`wasm, ${threads} thread`);
  } finally {
    await browser.close();
  }
});
