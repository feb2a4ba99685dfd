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

  await page.screenshot({ path: `${OUTPUT}/inspect-1280x800.png`, fullPage: true });
});

test('the Inspect tab keeps its input across a reload, is keyboard reachable and fits a narrow window', async ({ page }) => {
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
  await page.screenshot({ path: `${OUTPUT}/inspect-narrow.png`, fullPage: true });
});

/** The placeholder the method-spec'd Inspect tab gives an unnumbered sentence: S 0.25, about four characters a token, policy = reference. */
function placeholderFor(sentence: string) {
  const tokens = Math.max(1, Math.round(sentence.trim().length / 4));
  return { similarity: 0.25, logp: Math.round(-1.2 * tokens * 100) / 100, tokens };
}

test("a pair typed over the bus example shows none of the example's numbers, and says which are placeholders", async ({ page }) => {
  await page.goto('/');
  await waitForWebGpu(page);
  const bus = EXAMPLE_PAIRS.find((p) => p.id === 'one-sentence')!;
  await page.getByTestId('example').selectOption(bus.id);
  await expect(page.getByTestId('similarity-chosen-0')).toHaveValue(String(bus.chosenNumbers[0].similarity));

  const chosen = 'A tram waits at the stop, bell ringing. Its doors are open.';
  const rejected = 'A taxi idles.';
  await page.getByTestId('chosen-text').fill(chosen);
  await page.getByTestId('rejected-text').fill(rejected);
  const old = [...bus.chosenNumbers, ...bus.rejectedNumbers].flatMap((n) => [n.similarity, n.policyLogp, n.refLogp, n.tokens]);
  for (const [side, text] of [['chosen', chosen], ['rejected', rejected]] as const) {
    const sentences = splitSentences(text);
    await expect(page.getByTestId(`${side}-sentences`).locator('.sentence')).toHaveCount(sentences.length);
    for (let i = 0; i < sentences.length; i++) {
      const want = placeholderFor(sentences[i].text);
      const fields = [`policy-${side}-${i}`, `ref-${side}-${i}`, `tokens-${side}-${i}`, ...(side === 'chosen' ? [`similarity-${side}-${i}`] : [])];
      const shown = await Promise.all(fields.map(async (id) => Number(await page.getByTestId(id).inputValue())));
      expect(shown.filter((v) => old.includes(v)), `${side} sentence ${i + 1} shows none of the bus example's numbers`).toEqual([]);
      expect(shown.slice(0, 3)).toEqual([want.logp, want.logp, want.tokens]);
      if (side === 'chosen') expect(shown[3]).toBe(want.similarity);
      // Said in words in the table and in the inputs' names, not only by colour.
      await expect(page.getByTestId(`source-${side}-${i}`)).toHaveText('placeholder');
      await expect(page.getByLabel(`policy log-prob of ${side} sentence ${i + 1} (placeholder)`)).toBeVisible();
    }
  }
  await expect(page.getByLabel('S of sentence 1 (placeholder)', { exact: true })).toBeVisible();
  await expect(page.getByTestId('results-unmeasured')).toContainText('3 sentences use placeholder numbers');

  // A number set by hand is the sentence's own; the bus text brings the bus numbers back.
  await page.getByTestId('policy-chosen-1').fill('-3.25');
  await expect(page.getByTestId('source-chosen-1')).toHaveText('S, Σℓref, n: placeholder; Σℓθ: set by hand');
  await expect(page.getByLabel('reference log-prob of chosen sentence 2 (placeholder)')).toBeVisible();
  await page.getByTestId('chosen-text').fill(bus.chosen);
  await expect(page.getByTestId('similarity-chosen-0')).toHaveValue(String(bus.chosenNumbers[0].similarity));
  await expect(page.getByTestId('policy-chosen-0')).toHaveValue(String(bus.chosenNumbers[0].policyLogp));
  await expect(page.getByTestId('source-chosen-0')).toHaveText('example');
  await page.getByTestId('chosen-text').fill(`${bus.chosen} Its doors are open.`);
  await expect(page.getByTestId('policy-chosen-1')).toHaveValue('-3.25');

  // A response of punctuation only is said to have nothing to weigh.
  await page.getByTestId('rejected-text').fill('?! ...');
  await expect(page.getByTestId('rejected-wordless')).toContainText('No letter or digit');
});

test('state saved by the previous version loads: its texts and settings stay, numbers that may be of other text are dropped with a notice', async ({ page }) => {
  const bus = EXAMPLE_PAIRS.find((p) => p.id === 'one-sentence')!;
  const saved = {
    version: 2,
    state: {
      prompt: bus.prompt,
      chosen: 'A tram waits at the stop, bell ringing.',
      rejected: 'A taxi idles.',
      chosenNumbers: bus.chosenNumbers,
      rejectedNumbers: bus.rejectedNumbers,
      alpha: 0.7,
      beta: 0.1,
      normalization: 'mean',
      perplexitySource: 'policy',
      granularity: 'sentence',
      image: null,
      scored: {},
      truncated: { chosen: [], rejected: [] },
      focus: { side: 'chosen', index: 0 },
    },
  };
  await page.addInitScript((value) => {
    if (!sessionStorage.getItem('seeded')) {
      localStorage.setItem('aspo-workbench/calculator', value);
      sessionStorage.setItem('seeded', '1');
    }
  }, JSON.stringify(saved));
  await page.goto('/');
  await expect(page.getByTestId('chosen-text')).toHaveValue(saved.state.chosen);
  await expect(page.getByTestId('alpha')).toHaveValue('0.7');
  await expect(page.getByTestId('inspect-notice')).toContainText('dropped');
  await expect(page.getByTestId('similarity-chosen-0')).toHaveValue('0.25');
  await expect(page.getByTestId('source-chosen-0')).toHaveText('placeholder');
  await expect(page.getByTestId('source-rejected-0')).toHaveText('placeholder');
  await page.getByRole('button', { name: 'Dismiss' }).click();
  await page.reload();
  await expect(page.getByTestId('chosen-text')).toHaveValue(saved.state.chosen);
  await expect(page.getByTestId('inspect-notice')).toHaveCount(0);
});
