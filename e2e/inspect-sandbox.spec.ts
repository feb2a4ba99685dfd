import { test, expect, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { adaptiveWeights, assignTokensToSentences, splitSentences } from '../src/aspo';
import { combineWeights } from '../src/aspo/weights';
import { catalogEntry, type CatalogEntry } from '../src/models/catalog';
import { loadClipScorer } from '../src/models/clip';
import type { MllmEngine } from '../src/models/engine';
import { loadOnnxEngine } from '../src/models/onnx/engine';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { describeScene, DESCRIBE_PROMPT } from '../src/sandbox/captions';
import { judgeDescription } from '../src/sandbox/judge';
import { renderScene } from '../src/sandbox/render';
import type { Scene } from '../src/sandbox/scene';
import { DEFAULT_DESCRIPTION_TOKENS } from '../src/state/sandbox/evaluate';
import { scenePair } from '../src/state/inspect/sandboxScene';
import { startNodeBackend } from '../scripts/lib/nodeBackend';
import { FIXTURE_MODELS, nodeFolderSource } from '../scripts/lib/nodeModelSource';

const OUTPUT = 'e2e-output';
const SCENE: Scene = {
  background: 'black',
  groups: [
    { count: 2, colour: 'red', shape: 'circle', side: 'left' },
    { count: 1, colour: 'blue', shape: 'square', side: 'right' },
  ],
};
const RENDER_SEED = 5;
const CORRUPTION_SEED = 3;

/** A bundled catalog entry's folder on disk: the app serves tests/fixtures/models at /models/. */
function bundledFolder(entry: CatalogEntry): string {
  expect(entry.origin, `${entry.id} is bundled`).toBe('bundled');
  return join(FIXTURE_MODELS, entry.path.replace(/^models\//, '').replace(/\/$/, ''));
}

/** The models a new user gets: the pickers' first values, loaded as they are. */
async function loadDefaultModels(page: Page) {
  const mllm = catalogEntry(await page.getByTestId('mllm-choice').inputValue());
  const clip = catalogEntry(await page.getByTestId('clip-choice').inputValue());
  const engine = (await page.getByTestId('mllm-engine').inputValue()) as 'onnx' | 'tfjs';
  await page.getByTestId('mllm-load').click();
  await page.getByTestId('clip-load').click();
  await expect(page.getByTestId('mllm-status')).toHaveAttribute('data-status', 'ready', { timeout: 90_000 });
  await expect(page.getByTestId('clip-status')).toHaveAttribute('data-status', 'ready', { timeout: 90_000 });
  return { mllm, clip, engine };
}

/** The scene's picture in Node, as the tab's image decodes it (RGB, 64×64, no resizing by the app). */
function sceneRawImage(scene: Scene, seed: number): RawImage {
  const { data, width, height, channels } = renderScene(scene, seed);
  return new RawImage(data, width, height, channels);
}

async function numberAt(page: Page, testId: string): Promise<number> {
  const value = await page.getByTestId(testId).getAttribute('data-value');
  expect(value, `${testId} has a value`).not.toBeNull();
  return Number(value);
}

/** S_i, PPL_i and w_i of a chosen response, from the same models in Node (CPU), on the same image and texts. */
async function nodeNumbers(engine: MllmEngine, clip: Awaited<ReturnType<typeof loadClipScorer>>, image: RawImage, chosen: string, rejected: string, alpha: number) {
  const spans = splitSentences(chosen);
  const similarity = (await clip.similarity(image, spans.map((s) => s.text.trim()))).map((s) => s.similarity);
  const [c] = await engine.logprobs({ image, prompt: DESCRIBE_PROMPT, responses: [chosen, rejected] });
  const tokenSentence = assignTokensToSentences(spans, c.tokens.map((t) => [t.start, t.end]), c.eosIndex);
  const perplexity = spans.map((_, i) => {
    const mine = c.tokens.filter((_, t) => tokenSentence[t] === i).map((t) => t.logp);
    return Math.exp(-mine.reduce((a, b) => a + b, 0) / mine.length);
  });
  return { similarity, perplexity, ...adaptiveWeights(similarity, perplexity, alpha) };
}

test('a scene set by hand in the Inspect tab is scored with the default models; its verdicts and weights equal the Node computation', async ({ page }) => {
  mkdirSync(OUTPUT, { recursive: true });
  await page.goto('/');
  const models = await loadDefaultModels(page);

  // Set by hand: an invalid scene first (two groups alike), refused with the world's message.
  await page.getByTestId('scene-mode-hand').check();
  await page.getByTestId('scene-background').selectOption('black');
  await page.getByTestId('scene-group-count').selectOption('2');
  for (const [i, g] of [SCENE.groups[0], SCENE.groups[0]].entries()) {
    await page.getByTestId(`scene-group-${i}-count`).selectOption(String(g.count));
    await page.getByTestId(`scene-group-${i}-colour`).selectOption(g.colour);
    await page.getByTestId(`scene-group-${i}-shape`).selectOption(g.shape);
  }
  await expect(page.getByTestId('scene-error')).toContainText('the two groups must differ in shape or colour');
  await page.getByTestId('scene-group-1-count').selectOption(String(SCENE.groups[1].count));
  await page.getByTestId('scene-group-1-colour').selectOption(SCENE.groups[1].colour);
  await page.getByTestId('scene-group-1-shape').selectOption(SCENE.groups[1].shape);
  await expect(page.getByTestId('scene-error')).toHaveCount(0);
  await page.getByTestId('scene-render-seed').fill(String(RENDER_SEED));

  // The image is the scene's picture, and its ground truth is shown.
  await expect(page.getByTestId('scene-json')).toHaveText(JSON.stringify(SCENE));
  await expect(page.getByTestId('scene-description')).toHaveText(describeScene(SCENE));
  const pixels = await page.getByTestId('image-preview').evaluate(async (img: HTMLImageElement) => {
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    return { width: canvas.width, rgb: Array.from(rgba).filter((_, k) => k % 4 !== 3) };
  });
  expect(pixels.width).toBe(64);
  expect(pixels.rgb).toEqual(Array.from(renderScene(SCENE, RENDER_SEED).data));

  await page.getByTestId('corruption-seed').fill(String(CORRUPTION_SEED));
  await page.getByTestId('scene-fill').click();
  const pair = scenePair(SCENE, CORRUPTION_SEED);
  await expect(page.getByTestId('prompt-text')).toHaveValue(DESCRIBE_PROMPT);
  await expect(page.getByTestId('chosen-text')).toHaveValue(pair.chosen);
  await expect(page.getByTestId('rejected-text')).toHaveValue(pair.rejected);

  // The same models in Node, from the folders the app serves them from.
  if (models.engine === 'tfjs') await startNodeBackend('cpu');
  const image = sceneRawImage(SCENE, RENDER_SEED);
  const source = nodeFolderSource(bundledFolder(models.mllm));
  const engine: MllmEngine =
    models.engine === 'onnx'
      ? await loadOnnxEngine(source, { device: 'cpu', dtype: models.mllm.dtype })
      : await loadTfjsEngine(source);
  const clip = await loadClipScorer(nodeFolderSource(bundledFolder(models.clip)), { device: 'cpu', dtype: typeof models.clip.dtype === 'string' ? models.clip.dtype : 'fp32' });
  const alpha = Number(await page.getByTestId('alpha').inputValue());

  // Scored twice: the correct description as chosen, then the corrupted one, so that a weighted sentence is hallucinated.
  for (const [chosen, rejected] of [
    [pair.chosen, pair.rejected],
    [pair.rejected, pair.chosen],
  ]) {
    await page.getByTestId('chosen-text').fill(chosen);
    await page.getByTestId('rejected-text').fill(rejected);
    await page.getByTestId('score').click();
    await expect(page.getByTestId('score-message')).toContainText('Scored with', { timeout: 90_000 });

    for (const [side, text] of [['chosen', chosen], ['rejected', rejected]] as const) {
      const judged = judgeDescription(SCENE, text).sentences;
      expect(judged.length).toBe(splitSentences(text).length);
      for (const [i, s] of judged.entries()) {
        const cell = page.getByTestId(`verdict-${side}-${i}`);
        await expect(cell).toHaveAttribute('data-verdict', s.verdict);
        // In words, not colour only.
        await expect(cell).toHaveText(s.verdict === 'hallucinated' ? `✗ hallucinated (${s.kind})` : s.verdict === 'correct' ? '✓ correct' : '? unparsed');
      }
    }
    const node = await nodeNumbers(engine, clip, image, chosen, rejected, alpha);
    const shown = { simNorm: [] as number[], pplNorm: [] as number[], weight: [] as number[] };
    for (let i = 0; i < node.weight.length; i++) {
      await expect(page.getByTestId(`source-chosen-${i}`)).toHaveText('scored');
      expect(Number(await page.getByTestId(`similarity-chosen-${i}`).inputValue()), `S_${i + 1}`).toBeCloseTo(node.similarity[i], 3);
      // Float32 on another device: PPL_i, an exponential, agrees to a relative 1e-3.
      expect(Math.abs((await numberAt(page, `ppl-chosen-${i}`)) / node.perplexity[i] - 1), `PPL_${i + 1}`).toBeLessThan(1e-3);
      for (const key of ['simNorm', 'pplNorm', 'weight'] as const) {
        shown[key].push(await numberAt(page, `${{ simNorm: 'simnorm', pplNorm: 'pplnorm', weight: 'weight' }[key]}-chosen-${i}`));
        expect(shown[key][i], `${key} of sentence ${i + 1}`).toBeCloseTo(node[key][i], 2);
      }
    }
    // And exactly Eq. 10 of the Ŝ_i and P̂_i the tab shows.
    combineWeights(shown.simNorm, shown.pplNorm, alpha).forEach((w, i) => expect(shown.weight[i]).toBeCloseTo(w, 12));
  }
  const hallucinated = judgeDescription(SCENE, pair.rejected).sentences.findIndex((s) => s.verdict === 'hallucinated');
  expect(hallucinated).toBeGreaterThanOrEqual(0);
  await expect(page.getByTestId(`verdict-chosen-${hallucinated}`)).toHaveAttribute('data-kind', pair.corruption);

  // Generate: the loaded model's greedy description, as Node's run of the same model gives it, judged like any response.
  await page.getByTestId('generate-chosen').click();
  await expect(page.getByTestId('generate-message')).toContainText('greedy answer', { timeout: 60_000 });
  const greedy = (await engine.generate({ image, prompt: DESCRIBE_PROMPT, maxNewTokens: DEFAULT_DESCRIPTION_TOKENS, greedy: true })).text.trim();
  const generated = await page.getByTestId('chosen-text').inputValue();
  // Greedy decoding follows the argmax: on another device (and, for a model whose input is not 64 pixels, another
  // resize) a near tie can break the other way after a while, so the two must agree at least at the start.
  const start = Math.min(16, greedy.length);
  expect(greedy.length).toBeGreaterThan(0);
  expect(generated.slice(0, start)).toBe(greedy.slice(0, start));
  for (const [i, s] of judgeDescription(SCENE, generated).sentences.entries()) {
    await expect(page.getByTestId(`verdict-chosen-${i}`)).toHaveAttribute('data-verdict', s.verdict);
  }
  engine.dispose();
  clip.dispose();
  await page.getByTestId('chosen-text').fill(pair.rejected);

  // The picker and the scene survive a reload.
  await page.reload();
  await expect(page.getByTestId('scene-mode-hand')).toBeChecked();
  await expect(page.getByTestId('scene-render-seed')).toHaveValue(String(RENDER_SEED));
  await expect(page.getByTestId('scene-json')).toHaveText(JSON.stringify(SCENE));
  await expect(page.getByTestId(`verdict-chosen-${hallucinated}`)).toHaveAttribute('data-kind', pair.corruption);
  await page.screenshot({ path: `${OUTPUT}/inspect-sandbox.png`, fullPage: true });

  // The picker, its held-out list and the ground truth fit a narrow window.
  await page.getByTestId('scene-mode-held-out').check();
  await page.setViewportSize({ width: 420, height: 800 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
});

test('the separation panel evaluates held-out scenes with the loaded models at the current α, shows progress, and cancels', async ({ page }) => {
  await page.goto('/');
  await loadDefaultModels(page);
  await page.getByTestId('alpha').fill('0.3');
  await page.getByTestId('separation-scenes').fill('2');
  await page.getByTestId('separation-run').click();
  const result = page.getByTestId('separation-result');
  await expect(result).toHaveAttribute('data-scenes', '2', { timeout: 90_000 });
  await expect(result).toHaveAttribute('data-alpha', '0.3');
  // Each scene's corrupted description has one hallucinated sentence and at least one correct one, so there is always something to separate.
  const header = await page.getByTestId('separation-table').locator('thead').textContent();
  const [, correct, hallucinated] = /Greedy \+ corrupted \((\d+) correct, (\d+) hallucinated\)/.exec(header ?? '') ?? [];
  expect(Number(hallucinated)).toBeGreaterThanOrEqual(2);
  expect(Number(correct)).toBeGreaterThanOrEqual(2);
  for (const key of ['simNorm', 'pplNorm', 'weight']) {
    const auroc = await numberAt(page, `separation-pooled-${key}`);
    expect(auroc).toBeGreaterThanOrEqual(0);
    expect(auroc).toBeLessThanOrEqual(1);
  }
  for (const id of ['separation-yesno-accuracy', 'separation-howmany-accuracy', 'separation-recall']) {
    const v = await numberAt(page, id);
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
  }
  await page.getByTestId('alpha').fill('0.6');
  await expect(result).toContainText('α has changed since');

  await page.getByTestId('separation-scenes').fill('120');
  await page.getByTestId('separation-run').click();
  await expect(page.getByTestId('separation-progress')).toBeVisible();
  await page.getByTestId('separation-cancel').click();
  await expect(page.getByTestId('separation-message')).toContainText('Evaluation cancelled; the figures below are from the run before', { timeout: 30_000 });
  await expect(result).toHaveAttribute('data-scenes', '2');
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${OUTPUT}/inspect-separation.png`, fullPage: true });
});
