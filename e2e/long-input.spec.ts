import { test, expect } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { squareImage } from '../tests/setup/images';
import { loadOnnxAndClip } from './inspectModels';

/** 5,000 words in 100 sentences: far past the tiny models' 512-token window, each sentence past tiny CLIP's 16 tokens. */
const WORDS = 'and waits near the old stone bridge while people walk past it slowly'.split(' ');
const LONG = Array.from({ length: 100 }, (_, i) => `Bus ${i} is red ${Array.from({ length: 46 }, (_, k) => WORDS[k % WORDS.length]).join(' ')}.`).join(' ');
const PROMPT = 'Describe the image.';

// On the ONNX engine, which keeps this test near a minute; the TF.js engine cuts alike (unit tests compare the two).
test('a 5,000-word response is cut to the windows, the message says what was cut, and scoring works after', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const png = join(mkdtempSync(join(tmpdir(), 'aspo-long-')), 'square.png');
  await squareImage(32, 32).save(png);
  await page.goto('/');
  await loadOnnxAndClip(page);
  await page.getByTestId('image-file').setInputFiles(png);
  await page.getByTestId('prompt-text').fill(PROMPT);
  await page.getByTestId('chosen-text').fill(LONG);
  await page.getByTestId('rejected-text').fill('A green circle. Birds fly by.');
  await page.getByTestId('score').click();
  const message = page.getByTestId('score-message');
  await expect(message).toContainText('Scored with', { timeout: 90_000 });
  await expect(message).toContainText(
    /chosen response: only the first \d+ of its \d+ tokens were scored, \d+ cut \(the model's window \(max_position_embeddings in config\.json\) is 512 tokens and the prompt takes \d+\)\. Sentences \d+–100 have no log-probs from the model\./,
  );
  await expect(message).toContainText(
    "chosen response: sentences 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 90 more are longer than CLIP's text window of 16 tokens; only the beginning was compared with the image.",
  );
  await expect(message).not.toContainText('rejected response');

  // The models still work: a short pair scores with no notice.
  await page.getByTestId('chosen-text').fill('A red square. It is small.');
  await page.getByTestId('score').click();
  await expect(message).toHaveText(/^Scored with [^.]*\.$/, { timeout: 60_000 });
  expect(errors).toEqual([]);
});
