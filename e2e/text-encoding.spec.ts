/**
 * Text files the tab imports are strict UTF-8: an adapter_config.json saved as Latin-1 is refused naming the file
 * and the line, instead of importing with U+FFFD in its strings.
 */
import { test, expect } from '@playwright/test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { exportPeftAdapter } from '../src/train/peft';
import { fixtureSource } from '../scripts/lib/nodeModelSource';

test('an adapter_config.json in Latin-1 is refused by line; the same file in UTF-8 imports', async ({ page }) => {
  test.setTimeout(240_000);
  await tf.setBackend('cpu');
  const engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { lora: { r: 4, alpha: 8, seed: 3 } });
  const files = await exportPeftAdapter(engine.model.lora, { baseModel: 'modèle-tiny' });
  engine.dispose();
  const dir = mkdtempSync(join(tmpdir(), 'aspo-encoding-'));
  const weights = join(dir, 'adapter_model.safetensors');
  writeFileSync(weights, files['adapter_model.safetensors']);
  const config = files['adapter_config.json'];
  const line = config.slice(0, config.indexOf('modèle')).split('\n').length;
  // The same JSON twice, with "è" as the single Latin-1 byte 0xe8 and as UTF-8.
  mkdirSync(join(dir, 'latin1'));
  mkdirSync(join(dir, 'utf8'));
  const latin1 = join(dir, 'latin1', 'adapter_config.json');
  const utf8 = join(dir, 'utf8', 'adapter_config.json');
  writeFileSync(latin1, Uint8Array.from(config, (c) => c.charCodeAt(0)));
  writeFileSync(utf8, config);

  await page.goto('/#train');
  await page.getByTestId('train-load').click();
  await expect(page.getByTestId('train-model-status')).toContainText('Loaded', { timeout: 90_000 });

  await page.getByTestId('import-adapter').setInputFiles([weights, latin1]);
  await expect(page.getByText(`adapter_config.json: line ${line} is not valid UTF-8 (byte 0xe8`)).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('import-result')).toHaveCount(0);

  await page.getByTestId('import-adapter').setInputFiles([weights, utf8]);
  await expect(page.getByTestId('import-result')).toContainText('imported', { timeout: 60_000 });
  rmSync(dir, { recursive: true, force: true });
});
