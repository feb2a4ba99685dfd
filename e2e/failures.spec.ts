/**
 * A failed action never takes away what works: a failed hub load keeps the loaded model (and the picker names it),
 * an invalid hub id is refused at its field before any request, a bad adapter import reports in the adapter panel
 * and leaves the imported adapter in effect, and an image removed can be picked again. No page error throughout.
 */
import { test, expect, type Page } from '@playwright/test';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { catalogEntry } from '../src/models/catalog';
import { parseSafetensors } from '../src/models/safetensors';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { exportPeftAdapter, type PeftFiles } from '../src/train/peft';
import { FIXTURE_MODELS, fixtureSource } from '../scripts/lib/nodeModelSource';
import { startModelMirror } from '../scripts/lib/modelMirror';
import { squareImage } from '../tests/setup/images';

const OUTPUT = 'e2e-output';
const TINY_SMOLVLM = catalogEntry('tiny-smolvlm').label;

/** Every uncaught error and unhandled rejection of the page. */
function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

test('a failed hub load keeps the working model and the picker naming it; an invalid id is refused at its field; a good load clears the error', async ({ page }) => {
  test.setTimeout(240_000);
  const errors = pageErrors(page);
  const mirror = await startModelMirror(FIXTURE_MODELS);
  try {
    await page.goto('/');
    await page.getByTestId('hub-endpoint').fill(mirror.url);
    await page.getByTestId('hub-endpoint').blur();
    await page.getByTestId('mllm-choice').selectOption('tiny-smolvlm');
    await page.getByTestId('mllm-engine').selectOption('onnx');
    await page.getByTestId('mllm-load').click();
    await expect(page.getByTestId('mllm-status')).toHaveAttribute('data-status', 'ready', { timeout: 90_000 });
    await expect(page.getByTestId('mllm-device')).toContainText(`Ready: ${TINY_SMOLVLM}`);

    // A hub id the hub does not have: the message is in the model's row, the bundled model stays loaded.
    await page.getByTestId('mllm-hub-id').fill('test-org/no-such-model');
    await page.getByTestId('mllm-hub-load').click();
    await expect(page.getByTestId('mllm-error')).toContainText('Could not load test-org/no-such-model', { timeout: 60_000 });
    await expect(page.getByTestId('mllm-error')).toContainText('HTTP 404');
    await expect(page.getByTestId('mllm-status')).toHaveAttribute('data-status', 'ready');
    await expect(page.getByTestId('mllm-device')).toContainText(`Ready: ${TINY_SMOLVLM}`);
    await expect(page.getByTestId('mllm-error')).toContainText(`${TINY_SMOLVLM} is still loaded`);
    await expect(page.getByTestId('mllm-choice')).toHaveValue('tiny-smolvlm');

    // A catalog entry the mirror lacks, on the other engine: both pickers go back to the model that works.
    await page.getByTestId('mllm-choice').selectOption('smolvlm-256m');
    await page.getByTestId('mllm-engine').selectOption('tfjs');
    await page.getByTestId('mllm-load').click();
    await expect(page.getByTestId('mllm-error')).toContainText('Could not load SmolVLM-256M-Instruct', { timeout: 60_000 });
    await expect(page.getByTestId('mllm-choice')).toHaveValue('tiny-smolvlm');
    await expect(page.getByTestId('mllm-engine')).toHaveValue('onnx');
    await expect(page.getByTestId('mllm-device')).toContainText(`Ready: ${TINY_SMOLVLM}`);

    // …and it still scores.
    await page.getByTestId('chosen-text').fill('A red square. It is small.');
    await page.getByTestId('rejected-text').fill('A green circle. Birds fly.');
    await page.getByTestId('score').click();
    await expect(page.getByTestId('score-message')).toContainText('Scored with', { timeout: 90_000 });

    // An invalid id: refused at the hub-id field with the reason, before any request.
    const hits = mirror.hits.length;
    await page.getByTestId('mllm-hub-id').fill('not a valid id!!');
    await page.getByTestId('mllm-hub-load').click();
    await expect(page.getByTestId('mllm-hub-id-error')).toContainText('"not a valid id!!" is not a Hugging Face model id: it contains " "');
    await expect(page.getByTestId('mllm-hub-id')).toHaveAttribute('aria-invalid', 'true');
    expect(mirror.hits.length).toBe(hits);
    await expect(page.getByTestId('mllm-status')).toHaveAttribute('data-status', 'ready');

    // A load that works replaces the model and clears both messages.
    await page.getByTestId('mllm-hub-id').fill('test-org/tiny-smolvlm');
    await expect(page.getByTestId('mllm-hub-id-error')).toHaveCount(0);
    await page.getByTestId('mllm-hub-load').click();
    await expect(page.getByTestId('mllm-device')).toContainText('Ready: test-org/tiny-smolvlm', { timeout: 90_000 });
    await expect(page.getByTestId('mllm-error')).toHaveCount(0);
    expect(errors).toEqual([]);
  } finally {
    await mirror.close();
  }
});

test('an image removed can be picked again from the same file', async ({ page }) => {
  const errors = pageErrors(page);
  const dir = mkdtempSync(join(tmpdir(), 'aspo-repick-'));
  const png = join(dir, 'square.png');
  await squareImage(32, 32).save(png);
  await page.goto('/');
  await page.getByTestId('image-file').setInputFiles(png);
  await expect(page.getByTestId('image-preview')).toBeVisible();
  await page.getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('image-preview')).toHaveCount(0);
  await page.getByTestId('image-file').setInputFiles(png);
  await expect(page.getByTestId('image-preview')).toBeVisible();
  await expect(page.getByTestId('image-preview')).toHaveAttribute('alt', "The pair's image: square.png");
  expect(errors).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});

/** Tensors of an adapter_model.safetensors, by name. */
function adapterTensors(bytes: Uint8Array): Map<string, { shape: number[]; data: (number | bigint)[] }> {
  const { tensors } = parseSafetensors(bytes, 'adapter_model.safetensors');
  return new Map([...tensors].map(([name, t]) => [name, { shape: t.shape, data: [...t.data] }]));
}

/** A trained-looking PEFT adapter for the bundled model (rank 4, alpha 8), made here on TF.js' CPU backend. */
async function writeAdapter(dir: string): Promise<{ weights: string; config: string; files: PeftFiles }> {
  await tf.setBackend('cpu');
  const engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { lora: { r: 4, alpha: 8, seed: 3 } });
  engine.model.lora.variables().forEach((v, i) => tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 10 + i))));
  const files = await exportPeftAdapter(engine.model.lora, { baseModel: 'tiny-smolvlm' });
  engine.dispose();
  mkdirSync(join(dir, 'good'));
  const weights = join(dir, 'good', 'adapter_model.safetensors');
  const config = join(dir, 'good', 'adapter_config.json');
  writeFileSync(weights, files['adapter_model.safetensors']);
  writeFileSync(config, files['adapter_config.json']);
  return { weights, config, files };
}

async function loadTrainModel(page: Page) {
  await page.goto('/#train');
  await page.getByTestId('train-load').click();
  await expect(page.getByTestId('train-model-status')).toContainText(`Loaded: ${TINY_SMOLVLM}`, { timeout: 90_000 });
}

test('a bad adapter import reports in the adapter panel, replaces its earlier success, and the imported adapter stays in effect', async ({ page }) => {
  test.setTimeout(240_000);
  mkdirSync(OUTPUT, { recursive: true });
  const errors = pageErrors(page);

  // A good adapter, and a broken copy whose config claims rank 8 over the same rank-4 weights.
  const dir = mkdtempSync(join(tmpdir(), 'aspo-adapter-'));
  const { weights, config, files } = await writeAdapter(dir);
  mkdirSync(join(dir, 'bad'));
  const badConfig = join(dir, 'bad', 'adapter_config.json');
  writeFileSync(badConfig, JSON.stringify({ ...JSON.parse(files['adapter_config.json']), r: 8, lora_alpha: 16 }));
  const good = adapterTensors(files['adapter_model.safetensors']);

  await loadTrainModel(page);

  await page.getByTestId('import-adapter').setInputFiles([weights, config]);
  await expect(page.getByTestId('import-result')).toContainText(`imported ${good.size} adapter tensors (r 4, alpha 8)`, { timeout: 60_000 });

  await page.getByTestId('import-adapter').setInputFiles([weights, badConfig]);
  const panelError = page.getByTestId('adapter-error');
  await expect(panelError).toContainText('importing the adapter failed', { timeout: 60_000 });
  await expect(panelError).toContainText('has shape [4, ');
  await expect(panelError).toContainText('(rank 4 in the file, 8 in the model)');
  await expect(page.getByTestId('import-result')).toHaveCount(0);
  await expect(page.getByTestId('train-status').locator('.field-error')).toHaveCount(0);
  await expect(page.getByTestId('train-model-status')).toContainText('LoRA r 4, alpha 8');

  // The adapter in effect is still the one imported: its export has the same tensors.
  await page.getByTestId('export-adapter').click();
  const pending = page.waitForEvent('download');
  await page.getByTestId('download-safetensors').click();
  const exported = join(OUTPUT, 'failures-adapter_model.safetensors');
  await (await pending).saveAs(exported);
  expect(adapterTensors(new Uint8Array(readFileSync(exported)))).toEqual(good);

  // A good import again clears the error.
  await page.getByTestId('import-adapter').setInputFiles([weights, config]);
  await expect(page.getByTestId('import-result')).toContainText(`imported ${good.size} adapter tensors`, { timeout: 60_000 });
  await expect(panelError).toHaveCount(0);
  expect(errors).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});

test('a failed model load in the Train tab keeps the model loaded before', async ({ page }) => {
  test.setTimeout(240_000);
  const errors = pageErrors(page);
  const dir = mkdtempSync(join(tmpdir(), 'aspo-train-load-'));
  const { weights, config } = await writeAdapter(dir);
  // A model folder without its weights.
  const broken = join(dir, 'tiny-smolvlm');
  cpSync(join(FIXTURE_MODELS, 'tiny-smolvlm'), broken, { recursive: true });
  rmSync(join(broken, 'model.safetensors'));

  await loadTrainModel(page);
  await page.getByTestId('train-model').selectOption('folder');
  await page.getByLabel('Model folder').setInputFiles(broken);
  await page.getByTestId('train-load').click();
  await expect(page.getByTestId('train-status').locator('.field-error')).toContainText('loading the model failed', { timeout: 60_000 });
  await expect(page.getByTestId('train-status').locator('.field-error')).toContainText('model.safetensors');
  await expect(page.getByTestId('train-model-status')).toContainText(`Loaded: ${TINY_SMOLVLM}`);

  // The bundled model is still there to take an adapter.
  await page.getByTestId('import-adapter').setInputFiles([weights, config]);
  await expect(page.getByTestId('import-result')).toContainText('imported', { timeout: 60_000 });
  expect(errors).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});
