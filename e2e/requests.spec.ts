/**
 * The request log: every flow of the app in a real Chromium, with every request its page and its Web Worker make
 * recorded under the flow that made it (written to e2e-output/requests-*.json). Each tab (Inspect, Train), each
 * engine (TF.js, ONNX) on the bundled tiny models, with and without an image, and after a reload; then hub models
 * from a mirror this test serves, chosen as the hub endpoint, in both tabs. The only hosts ever contacted are the
 * app's own origin and that endpoint, and only for the app's assets and the files of the models the flow asked
 * for: no CDN (ONNX Runtime's files included), no default hub.
 */
import { test, expect, type BrowserContext, type Page } from '@playwright/test';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_MODELS } from '../scripts/lib/nodeModelSource';
import { startModelMirror } from '../scripts/lib/modelMirror';
import { squareImage } from '../tests/setup/images';

const BUNDLED = 'tests/fixtures/models';
const OUTPUT = 'e2e-output';
const PROMPT = 'Describe the image.';
const CHOSEN = 'A red square sits on a blue ground. It is small.';
const REJECTED = 'A green circle floats in the sky. Birds fly by.';

/** What a flow asked for: model folder name → the engine that reads it (TF.js reads no ONNX file). */
type Asked = Record<string, 'tfjs' | 'onnx'>;

/** The hub endpoint the user chose, and the folder it serves. */
interface Hub {
  url: string;
  root: string;
}

interface Logged {
  flow: string;
  url: string;
}

/** Every request of the context's pages and workers, each under the flow that was running when it was made. */
class RequestLog {
  readonly entries: Logged[] = [];
  private current = 'opening the app';
  private readonly flows = new Map<string, Asked>();

  /** `name` names the file the log is written to: e2e-output/requests-{name}.json. */
  constructor(
    context: BrowserContext,
    readonly name: string,
  ) {
    context.on('request', (r) => this.entries.push({ flow: this.current, url: r.url() }));
    logs.push(this);
  }

  flow(name: string, asked: Asked = {}) {
    this.current = name;
    this.flows.set(name, asked);
  }

  /** Each request that is not the app's asset or a file of a model its flow asked for, with the reason. */
  offenders(origin: string, mirror?: Hub): string[] {
    const out: string[] = [];
    for (const { flow, url } of this.entries) {
      const u = new URL(url);
      if (u.protocol === 'data:' || (u.protocol === 'blob:' && url.startsWith(`blob:${origin}/`))) continue;
      const asked = this.flows.get(flow) ?? {};
      const why =
        u.origin === origin
          ? originRequest(u.pathname, asked)
          : mirror && u.origin === mirror.url
            ? mirrorRequest(u.pathname, asked, mirror.root)
            : 'a host that is neither the app nor the chosen hub';
      if (why) out.push(`${flow}: ${url} — ${why}`);
    }
    return out;
  }

  count(flow: string): number {
    return this.entries.filter((e) => e.flow === flow).length;
  }
}

function modelFile(root: string, model: string, file: string, asked: Asked): string | null {
  const engine = asked[model];
  if (!engine) return `model "${model}" was not asked for in this flow`;
  if (engine === 'tfjs' && file.startsWith('onnx/')) return 'an ONNX file, but the TF.js engine was asked for';
  const path = join(root, model, file);
  return existsSync(path) && statSync(path).isFile() ? null : `not a file of ${model}`;
}

/** null when `path` on the app's origin is the app itself, a built asset or a bundled model's file asked for. */
function originRequest(path: string, asked: Asked): string | null {
  if (path === '/' || /^\/assets\/[\w.-]+$/.test(path)) return null;
  const model = path.match(/^\/models\/([\w.-]+)\/(.+)$/);
  return model ? modelFile(BUNDLED, model[1], decodeURIComponent(model[2]), asked) : 'neither an app asset nor a model file';
}

/** null when `path` on the hub mirror is a hub download (`/{org}/{name}/resolve/main/{file}`) of a model asked for. */
function mirrorRequest(path: string, asked: Asked, root: string): string | null {
  const hub = path.match(/^\/[\w.-]+\/([\w.-]+)\/resolve\/main\/(.+)$/);
  return hub ? modelFile(root, hub[1], decodeURIComponent(hub[2]), asked) : 'not a hub file download';
}

let imagePath: string;
let dir: string;
const logs: RequestLog[] = [];

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aspo-requests-'));
  imagePath = join(dir, 'square.png');
  await squareImage(32, 32).save(imagePath);
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));
test.afterEach(() => {
  const log = logs.pop();
  if (!log) return;
  mkdirSync(OUTPUT, { recursive: true });
  writeFileSync(join(OUTPUT, `requests-${log.name}.json`), JSON.stringify(log.entries, null, 1));
});

async function setImage(page: Page) {
  await page.getByTestId('image-file').setInputFiles(imagePath);
  await expect(page.getByTestId('image-preview')).toBeVisible();
}

async function removeImage(page: Page) {
  await page.getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('image-preview')).toHaveCount(0);
}

async function fillPair(page: Page) {
  await page.getByTestId('prompt-text').fill(PROMPT);
  await page.getByTestId('chosen-text').fill(CHOSEN);
  await page.getByTestId('rejected-text').fill(REJECTED);
}

const ONNX_DEVICE = /^(webgpu|wasm)$/;

/** Waits until the slot holds a model running on `device` (the engine's, so a model loaded before does not count). */
async function loaded(page: Page, role: 'mllm' | 'clip', device: RegExp) {
  await expect
    .poll(
      async () => {
        const status = await page.getByTestId(`${role}-status`).getAttribute('data-status');
        if (status === 'error') throw new Error(`the ${role} model failed to load: ${await page.getByTestId(`${role}-error`).textContent()}`);
        return status === 'ready' ? await page.getByTestId(`${role}-device`).getAttribute('data-device') : status;
      },
      { timeout: 60_000 },
    )
    .toMatch(device);
}

/** Loads a bundled model; the MLLM on the engine chosen (kept across reloads) or on `engine`. */
async function loadBundled(page: Page, role: 'mllm' | 'clip', id: string, engine?: 'tfjs' | 'onnx') {
  await page.getByTestId(`${role}-choice`).selectOption(id);
  if (engine) await page.getByTestId('mllm-engine').selectOption(engine);
  const chosen = role === 'mllm' ? await page.getByTestId('mllm-engine').inputValue() : 'onnx';
  await page.getByTestId(`${role}-load`).click();
  await loaded(page, role, chosen === 'tfjs' ? /^TF\.js / : ONNX_DEVICE);
}

/** Scores the pair and checks that this flow's requests, made up to now, are all allowed; then that it scored. */
async function score(page: Page, log: RequestLog, origin: string, mirror?: Hub) {
  await page.getByTestId('score').click();
  await expect(page.getByTestId('score-message')).toBeVisible({ timeout: 60_000 });
  expect(log.offenders(origin, mirror)).toEqual([]);
  await expect(page.getByTestId('score-message')).toContainText('Scored with');
}

// Model loads and WebGPU shader compiles on SwiftShader take minutes on a loaded 2-core machine.
test.describe.configure({ timeout: 300_000 });

test('Inspect on the TF.js engine, then the ONNX engine, with and without an image, each after a reload: only the app is asked', async ({ page }) => {
  const log = new RequestLog(page.context(), 'inspect');
  await page.goto('/');
  const origin = new URL(page.url()).origin;
  await page.getByTestId('mllm-engine').selectOption('tfjs');
  await fillPair(page);
  await setImage(page);
  log.flow('reload');
  await page.reload();
  await expect(page.getByTestId('image-preview')).toBeVisible();
  await expect(page.getByTestId('mllm-engine')).toHaveValue('tfjs');

  // No ONNX model has been loaded in this page, yet SmolVLM's image processor runs an ONNX op.
  log.flow('Inspect · TF.js · image · no CLIP · after a reload', { 'tiny-smolvlm': 'tfjs' });
  await loadBundled(page, 'mllm', 'tiny-smolvlm');
  await score(page, log, origin);

  log.flow('Inspect · TF.js · no image', { 'tiny-smolvlm': 'tfjs' });
  await removeImage(page);
  await score(page, log, origin);
  expect(log.count('Inspect · TF.js · no image'), 'scoring again reads nothing').toBe(0);

  log.flow('Inspect · TF.js · CLIP · image', { 'tiny-clip': 'onnx' });
  await loadBundled(page, 'clip', 'tiny-clip');
  await setImage(page);
  await score(page, log, origin);

  log.flow('Inspect · ONNX · CLIP · image', { 'tiny-smolvlm': 'onnx' });
  await loadBundled(page, 'mllm', 'tiny-smolvlm', 'onnx');
  await score(page, log, origin);
  log.flow('Inspect · ONNX · CLIP · no image', { 'tiny-smolvlm': 'onnx' });
  await removeImage(page);
  await score(page, log, origin);

  await setImage(page);
  log.flow('reload');
  await page.reload();
  await expect(page.getByTestId('mllm-engine')).toHaveValue('onnx');
  log.flow('Inspect · ONNX · image · no CLIP · after a reload', { 'tiny-smolvlm': 'onnx' });
  await loadBundled(page, 'mllm', 'tiny-smolvlm');
  await score(page, log, origin);
  expect(log.offenders(origin)).toEqual([]);
});

async function setNumber(page: Page, testId: string, value: number) {
  await page.getByTestId(testId).fill(String(value));
  await expect(page.getByTestId(testId)).toHaveValue(String(value));
}

/** Starts a one-step ASPO-P run (the Inspector pair has no S_i until CLIP scores it) on `data` and waits for it to end. */
async function trainOneStep(page: Page, data: 'sandbox' | 'inspector') {
  await page.getByTestId('preset-aspo-p').click();
  await page.getByTestId('set-data').selectOption(data);
  await setNumber(page, 'set-steps', 1);
  if (data === 'sandbox') await setNumber(page, 'set-sandbox-count', 1);
  const runs = await page.getByTestId('run-row').count();
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('run-row')).toHaveCount(runs + 1);
  await expect
    .poll(
      async () => {
        const status = await page.getByTestId('run-status').textContent();
        if (status === 'error') throw new Error(`the run failed: ${await page.getByTestId('run-notices').textContent()}`);
        return status;
      },
      { timeout: 240_000 },
    )
    .toBe('done');
}

test('Train in the worker on the Inspector pair without an image, on the sandbox, and after a reload with an image: only the app is asked', async ({ page }) => {
  const log = new RequestLog(page.context(), 'train');
  await page.goto('/');
  const origin = new URL(page.url()).origin;
  await fillPair(page);
  await page.getByTestId('tab-train').click();
  log.flow('Train · Inspector pair · no image', { 'tiny-smolvlm': 'tfjs' });
  await trainOneStep(page, 'inspector');
  log.flow('Train · sandbox (images)', { 'tiny-smolvlm': 'tfjs' });
  await trainOneStep(page, 'sandbox');

  await page.getByTestId('tab-inspect').click();
  await setImage(page);
  log.flow('reload');
  await page.reload();
  await page.getByTestId('tab-train').click();
  log.flow('Train · Inspector pair · image · after a reload', { 'tiny-smolvlm': 'tfjs' });
  await trainOneStep(page, 'inspector');
  expect(log.offenders(origin)).toEqual([]);
});

test('from a hub mirror the user chose, in both tabs and on both engines: only the app and that mirror are asked', async ({ page }) => {
  // A hub with the tiny models under their own names and under the catalog's SmolVLM-256M name.
  const linkRoot = mkdtempSync(join(dir, 'hub-'));
  for (const name of ['tiny-smolvlm', 'tiny-clip']) symlinkSync(join(FIXTURE_MODELS, name), join(linkRoot, name));
  symlinkSync(join(FIXTURE_MODELS, 'tiny-smolvlm'), join(linkRoot, 'SmolVLM-256M-Instruct'));
  const mirror = await startModelMirror(linkRoot);
  const hub = { ...mirror, root: linkRoot };
  const log = new RequestLog(page.context(), 'hub');
  try {
    await page.goto('/');
    const origin = new URL(page.url()).origin;
    await page.getByTestId('hub-endpoint').fill(mirror.url);
    await page.getByTestId('hub-endpoint').blur();
    await fillPair(page);
    await setImage(page);

    log.flow('Inspect · hub · ONNX · CLIP · image', { 'tiny-smolvlm': 'onnx', 'tiny-clip': 'onnx' });
    await page.getByTestId('mllm-engine').selectOption('onnx');
    await page.getByTestId('mllm-hub-id').fill('test-org/tiny-smolvlm');
    await page.getByTestId('mllm-hub-load').click();
    await loaded(page, 'mllm', ONNX_DEVICE);
    await page.getByTestId('clip-hub-id').fill('test-org/tiny-clip');
    await page.getByTestId('clip-hub-load').click();
    await loaded(page, 'clip', ONNX_DEVICE);
    await score(page, log, origin, hub);

    // The Train tab's hub model comes from the same endpoint (the TF.js engine, in the worker).
    log.flow('Train · hub (catalog SmolVLM-256M) · load', { 'SmolVLM-256M-Instruct': 'tfjs' });
    await page.getByTestId('tab-train').click();
    await page.getByTestId('train-model').selectOption('smolvlm-256m');
    await page.getByTestId('train-load').click();
    await expect(page.getByText(/^(Loaded: SmolVLM-256M-Instruct|loading the model failed)/)).toBeVisible({ timeout: 60_000 });
    expect(log.offenders(origin, hub)).toEqual([]);
    await expect(page.getByTestId('train-model-status')).toContainText('Loaded: SmolVLM-256M-Instruct');
    expect(log.offenders(origin, hub)).toEqual([]);
    expect(mirror.hits.some((h) => h.includes('/SmolVLM-256M-Instruct/resolve/main/model.safetensors'))).toBe(true);
  } finally {
    await mirror.close();
  }
});
