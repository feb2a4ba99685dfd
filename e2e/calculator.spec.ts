import { test, expect, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { adaptiveWeights, aspoObjective, splitSentences } from '../src/aspo';
import { EXAMPLE_PAIRS, type SentenceNumbers } from '../src/data/examples';

const OUTPUT = 'e2e-output';

async function waitForWebGpu(page: Page) {
  await expect(page.getByTestId('backend')).toHaveAttribute('data-backend', /.+/, { timeout: 60_000 });
  return page.getByTestId('backend').getAttribute('data-backend');
}

async function numberAt(page: Page, testId: string): Promise<number> {
  const value = await page.getByTestId(testId).getAttribute('data-value');
  expect(value, `${testId} has a value`).not.toBeNull();
  return Number(value);
}

/** The expected numbers from the Node-side functions, with perplexity written out as Eq. 9 on a sentence's mean log-prob. */
function expectedFor(chosen: SentenceNumbers[], rejected: SentenceNumbers[], alpha: number, beta: number) {
  const perplexity = chosen.map((s) => Math.exp(-s.policyLogp / s.tokens));
  const weights = adaptiveWeights(
    chosen.map((s) => s.similarity),
    perplexity,
    alpha,
  );
  const spread = (numbers: SentenceNumbers[]) => ({
    policyLogps: numbers.flatMap((s) => Array<number>(s.tokens).fill(s.policyLogp / s.tokens)),
    refLogps: numbers.flatMap((s) => Array<number>(s.tokens).fill(s.refLogp / s.tokens)),
    tokenSentence: numbers.flatMap((s, i) => Array<number>(s.tokens).fill(i)),
  });
  const result = aspoObjective({
    chosen: { ...spread(chosen), weights: weights.weight },
    rejected: spread(rejected),
    beta,
    normalization: 'mean',
  });
  return { weights: weights.weight, result };
}

test('TF.js runs on WebGPU and typed responses split into sentences as expected', async ({ page }) => {
  await page.goto('/');
  expect(await waitForWebGpu(page)).toBe('webgpu');

  const text = 'Dr. Smith paid $3.50 for it, i.e. a bargain. Was it worth it?\nYes! The U.S. team won.';
  await page.getByTestId('chosen-text').fill(text);
  const shown = await page.getByTestId('chosen-sentences').locator('.sentence').evaluateAll((els) =>
    els.map((el) => ({ start: Number(el.getAttribute('data-start')), end: Number(el.getAttribute('data-end')) })),
  );
  expect(shown.map((s) => text.slice(s.start, s.end))).toEqual([
    'Dr. Smith paid $3.50 for it, i.e. a bargain. ',
    'Was it worth it?\n',
    'Yes! ',
    'The U.S. team won.',
  ]);
  expect(shown).toEqual(splitSentences(text).map(({ start, end }) => ({ start, end })));
});

test('moving α changes the weights and the ASPO loss to the values the Node-side functions give', async ({ page }) => {
  mkdirSync(OUTPUT, { recursive: true });
  await page.goto('/');
  expect(await waitForWebGpu(page)).toBe('webgpu');
  const example = EXAMPLE_PAIRS.find((p) => p.id === 'dog-park')!;
  await page.getByTestId('example').selectOption(example.id);
  await expect(page.getByTestId('chosen-text')).toHaveValue(example.chosen);

  const readWeights = async () =>
    Promise.all(example.chosenNumbers.map((_, i) => numberAt(page, `weight-chosen-${i}`)));

  for (const alpha of [0.5, 1, 0]) {
    await page.getByTestId('alpha').fill(String(alpha));
    const expected = expectedFor(example.chosenNumbers, example.rejectedNumbers, alpha, 0.1);
    await expect
      .poll(async () => numberAt(page, 'result-loss'), { message: `ASPO loss at α=${alpha}` })
      .toBeCloseTo(expected.result.loss, 10);
    const weights = await readWeights();
    weights.forEach((w, i) => expect(w, `w_${i + 1} at α=${alpha}`).toBeCloseTo(expected.weights[i], 10));
    expect(await numberAt(page, 'result-margin')).toBeCloseTo(expected.result.margin, 10);
    expect(await numberAt(page, 'result-dpoLoss')).toBeCloseTo(expected.result.dpoLoss, 10);
    expect(await numberAt(page, 'result-lambda')).toBeCloseTo(expected.result.lambda, 10);
    // Eq. 10 is rendered with the focused (first) sentence's numbers substituted.
    await expect(page.getByLabel('Equation 10')).toContainText(expected.weights[0].toFixed(4));
    // The same objective as TF.js ops on the WebGPU backend, in float32.
    await expect
      // The device result arrives asynchronously; until it does the attribute is absent (NaN keeps polling).
      .poll(async () => Math.abs(Number((await page.getByTestId('device-check').getAttribute('data-value')) ?? NaN) - expected.result.loss) / expected.result.loss)
      .toBeLessThan(1e-5);
  }
  const atHalf = expectedFor(example.chosenNumbers, example.rejectedNumbers, 0.5, 0.1);
  const atOne = expectedFor(example.chosenNumbers, example.rejectedNumbers, 1, 0.1);
  expect(atHalf.result.loss).not.toBeCloseTo(atOne.result.loss, 6);

  await page.screenshot({ path: `${OUTPUT}/calculator-1280x800.png`, fullPage: true });
});

test('the calculator keeps its input across a reload, is keyboard reachable and fits a narrow window', async ({ page }) => {
  mkdirSync(OUTPUT, { recursive: true });
  await page.goto('/');
  await waitForWebGpu(page);
  await page.getByTestId('rejected-text').fill('It is a cat. It sleeps.');
  await page.getByTestId('policy-rejected-1').fill('-4.5');
  await page.reload();
  await expect(page.getByTestId('rejected-text')).toHaveValue('It is a cat. It sleeps.');
  await expect(page.getByTestId('policy-rejected-1')).toHaveValue('-4.5');

  await page.getByTestId('chosen-text').focus();
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('chosen-sentence-0')).toBeFocused();
  await page.keyboard.press('Enter');
  let reachedAlpha = false;
  for (let i = 0; i < 80 && !reachedAlpha; i++) {
    await page.keyboard.press('Tab');
    reachedAlpha = await page.getByTestId('alpha').evaluate((el) => el === document.activeElement);
  }
  expect(reachedAlpha, 'α is reachable with Tab').toBe(true);

  await page.getByTestId('alpha').fill('2');
  await expect(page.getByRole('alert')).toContainText('between 0 and 1');

  await page.setViewportSize({ width: 420, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${OUTPUT}/calculator-narrow.png`, fullPage: true });
});
