import { test, expect, type Page } from '@playwright/test';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { adaptiveWeights, aspoObjective, assignTokensToSentences, splitSentences } from '../src/aspo';
import { loadClipScorer } from '../src/models/clip';
import { loadOnnxEngine } from '../src/models/onnx/engine';
import { FIXTURE_MODELS, fixtureSource, nodeFolderSource } from '../scripts/lib/nodeModelSource';
import { startModelMirror } from '../scripts/lib/modelMirror';
import { squareImage } from '../tests/setup/images';
import { loadOnnxAndClip } from './inspectModels';

const OUTPUT = 'e2e-output';
const PROMPT = 'Describe the image.';
const CHOSEN = 'A red square sits on a blue ground. It is small.';
const REJECTED = 'A green circle floats in the sky. Birds fly by.';

/**
 * 32×32 PNG, a red square on a blue ground: the tiny models' own input size, so neither the app's downscaling
 * nor the processors' resizing (canvas in the browser, sharp in Node) touches a pixel.
 */
async function writeImage(dir: string): Promise<string> {
  const path = join(dir, 'square.png');
  await squareImage(32, 32).save(path);
  return path;
}

async function value(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).getAttribute('data-value'));
}

test('the Inspector fills S_i from CLIP and log-probs from the ONNX engine, equal to the Node-side computation', async ({ page }) => {
  mkdirSync(OUTPUT, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'aspo-inspector-'));
  const png = await writeImage(dir);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));

  await page.goto('/');
  await loadOnnxAndClip(page);
  await page.getByTestId('image-file').setInputFiles(png);
  await expect(page.getByTestId('image-preview')).toBeVisible();
  await page.getByTestId('prompt-text').fill(PROMPT);
  await page.getByTestId('chosen-text').fill(CHOSEN);
  await page.getByTestId('rejected-text').fill(REJECTED);
  await page.getByTestId('score').click();
  await expect(page.getByTestId('score-message')).toContainText('Scored with', { timeout: 90_000 });

  // The same computation in Node, on the CPU, through the same loaders.
  const image = await RawImage.read(png);
  const clip = await loadClipScorer(fixtureSource('tiny-clip' as 'tiny-smolvlm'), { device: 'cpu' });
  const engine = await loadOnnxEngine(fixtureSource('tiny-smolvlm'), { device: 'cpu' });
  const spans = splitSentences(CHOSEN);
  const rejectedSpans = splitSentences(REJECTED);
  const similarity = (await clip.similarity(image, spans.map((s) => s.text.trim()))).map((s) => s.similarity);
  const [c, r] = await engine.logprobs({ image, prompt: PROMPT, responses: [CHOSEN, REJECTED] });
  clip.dispose();
  engine.dispose();
  const tokenSentence = assignTokensToSentences(spans, c.tokens.map((t) => [t.start, t.end]), c.eosIndex);
  const perplexity = spans.map((_, i) => {
    const mine = c.tokens.filter((_, t) => tokenSentence[t] === i).map((t) => t.logp);
    return Math.exp(-mine.reduce((a, b) => a + b, 0) / mine.length);
  });
  const weights = adaptiveWeights(similarity, perplexity, 0.5);
  const expected = aspoObjective({
    chosen: { policyLogps: c.tokens.map((t) => t.logp), refLogps: c.tokens.map((t) => t.logp), tokenSentence, weights: weights.weight },
    rejected: { policyLogps: r.tokens.map((t) => t.logp), refLogps: r.tokens.map((t) => t.logp) },
    beta: 0.1,
    normalization: 'mean',
  });

  for (let i = 0; i < spans.length; i++) {
    expect(Number(await page.getByTestId(`similarity-chosen-${i}`).inputValue())).toBeCloseTo(similarity[i], 4);
    expect(await value(page, `ppl-chosen-${i}`)).toBeCloseTo(perplexity[i], 2);
    expect(await value(page, `weight-chosen-${i}`)).toBeCloseTo(weights.weight[i], 2);
  }
  expect(rejectedSpans.length).toBe(2);
  // Until training, policy = reference: every reward is 0 and ASPO's loss is log 2.
  expect(await value(page, 'result-loss')).toBeCloseTo(expected.loss, 6);
  expect(expected.loss).toBeCloseTo(Math.log(2), 10);

  // Hovering a sentence shows its tokens with their log-probs (focusing does too).
  await page.getByTestId('chosen-sentence-1').hover();
  const heat = page.getByTestId('token-heatmap');
  await expect(heat).toBeVisible();
  const shownLogps = await heat.locator('.token').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-logp'))));
  const sentenceLogps = c.tokens.filter((_, t) => tokenSentence[t] === 1).map((t) => t.logp);
  expect(shownLogps.length).toBe(sentenceLogps.length);
  shownLogps.forEach((lp, k) => expect(lp).toBeCloseTo(sentenceLogps[k], 3));

  // Moving α recomputes without running a model again.
  const before = requests.length;
  await page.getByTestId('alpha').fill('1');
  const alphaOne = adaptiveWeights(similarity, perplexity, 1);
  await expect.poll(() => value(page, 'weight-chosen-0')).toBeCloseTo(alphaOne.weight[0], 3);
  expect(requests.length).toBe(before);

  // The numbers belong to their text: an edited sentence gets marked placeholders, a later one's log-probs are
  // marked stale (their earlier text changed), and the scored text brings the scored numbers back.
  await expect(page.getByTestId('source-chosen-0')).toHaveText('scored');
  await page.getByTestId('chosen-text').fill(CHOSEN.replace('red square', 'yellow star'));
  await expect(page.getByTestId('source-chosen-0')).toHaveText('placeholder');
  await expect(page.getByTestId('source-chosen-1')).toHaveText('S: scored; ℓ, n: stale');
  expect(Number(await page.getByTestId('similarity-chosen-1').inputValue())).toBeCloseTo(similarity[1], 4);
  expect(Number(await page.getByTestId('similarity-chosen-0').inputValue())).toBe(0.25);
  await page.getByTestId('chosen-text').fill(CHOSEN);
  await expect(page.getByTestId('source-chosen-0')).toHaveText('scored');
  expect(Number(await page.getByTestId('similarity-chosen-0').inputValue())).toBeCloseTo(similarity[0], 4);
  expect(await value(page, 'ppl-chosen-0')).toBeCloseTo(perplexity[0], 2);

  // Nothing left the machine: every request went to the app's own origin.
  const origin = new URL(page.url()).origin;
  expect(requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:') && !u.startsWith('blob:'))).toEqual([]);
  await page.screenshot({ path: `${OUTPUT}/inspect-scored.png`, fullPage: true });
  rmSync(dir, { recursive: true, force: true });
});

test('a broken model folder gives its message and the app keeps working', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'aspo-broken-'));
  const broken = join(dir, 'tiny-clip');
  cpSync(join(FIXTURE_MODELS, 'tiny-clip'), broken, { recursive: true });
  writeFileSync(join(broken, 'onnx', 'vision_model.onnx'), new Uint8Array([8, 1, 18]));
  expect(() => nodeFolderSource(broken)).not.toThrow();

  await page.goto('/');
  await page.getByTestId('clip-folder').setInputFiles(broken);
  await expect(page.getByTestId('clip-error')).toContainText('vision_model.onnx', { timeout: 60_000 });
  await page.getByTestId('clip-choice').selectOption('tiny-clip');
  await page.getByTestId('clip-load').click();
  await expect(page.getByTestId('clip-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await page.getByTestId('chosen-text').fill('Still works. Yes.');
  await expect(page.getByTestId('chosen-sentence-1')).toHaveText(/Yes\./);
  rmSync(dir, { recursive: true, force: true });
});

test('a hub id loads from a mirror with progress, and after a reload comes from Cache Storage without a request', async ({ page }) => {
  const mirror = await startModelMirror(FIXTURE_MODELS);
  const toMirror: string[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(mirror.url)) toMirror.push(r.url());
  });
  try {
    await page.goto('/');
    await page.getByTestId('hub-endpoint').fill(mirror.url);
    await page.getByTestId('hub-endpoint').blur();
    await page.getByTestId('clip-hub-id').fill('test-org/tiny-clip');
    const progressShown = page.getByTestId('clip-progress').waitFor({ state: 'attached', timeout: 60_000 });
    await page.getByTestId('clip-hub-load').click();
    await progressShown;
    await expect(page.getByTestId('clip-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
    expect(toMirror.some((u) => u.endsWith('/test-org/tiny-clip/resolve/main/onnx/text_model.onnx'))).toBe(true);
    const cached = await page.evaluate(async () => (await (await caches.open('aspo-models')).keys()).map((r) => r.url));
    expect(cached.some((u) => u.endsWith('onnx/vision_model.onnx'))).toBe(true);

    await page.reload();
    const before = toMirror.length;
    const hitsBefore = mirror.hits.length;
    await expect(page.getByTestId('hub-endpoint')).toHaveValue(mirror.url);
    await page.getByTestId('clip-hub-id').fill('test-org/tiny-clip');
    await page.getByTestId('clip-hub-load').click();
    await expect(page.getByTestId('clip-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
    expect(toMirror.slice(before)).toEqual([]);
    expect(mirror.hits.length).toBe(hitsBefore);

    await page.getByTestId('mllm-hub-id').fill('test-org/no-such-model');
    await page.getByTestId('mllm-hub-load').click();
    await expect(page.getByTestId('mllm-error')).toContainText('HTTP 404');
  } finally {
    await mirror.close();
  }
});

test('offline downloads and unsupported architectures get messages a user can act on, and the app stays usable', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'aspo-bert-'));
  const bert = join(dir, 'some-bert');
  cpSync(join(FIXTURE_MODELS, 'tiny-smollm2'), bert, { recursive: true });
  writeFileSync(join(bert, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: 8 }));
  await page.goto('/');
  await page.getByTestId('mllm-engine').selectOption('tfjs');
  await page.getByTestId('mllm-folder').setInputFiles(bert);
  await expect(page.getByTestId('mllm-error')).toContainText('bert');
  await expect(page.getByTestId('mllm-error')).toContainText('idefics3');

  // The network drops every request to the hub: the message says so and points to the offline ways.
  await page.route('http://hub.invalid/**', (route) => route.abort('internetdisconnected'));
  await page.getByTestId('hub-endpoint').fill('http://hub.invalid');
  await page.getByTestId('hub-endpoint').blur();
  await page.getByTestId('clip-hub-id').fill('test-org/tiny-clip');
  await page.getByTestId('clip-hub-load').click();
  await expect(page.getByTestId('clip-error')).toContainText('local folder');

  await page.getByTestId('chosen-text').fill('Still here. Fine.');
  await expect(page.getByTestId('chosen-sentence-1')).toHaveText(/Fine\./);
  rmSync(dir, { recursive: true, force: true });
});
