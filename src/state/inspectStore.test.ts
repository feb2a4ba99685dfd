import { beforeEach, describe, expect, it, vi } from 'vitest';
import { splitSentences } from '../aspo';
import { EXAMPLE_PAIRS } from '../data/examples';
import { LOGP_FIELDS, imageKey, resolveNumbers, type ResolvedNumbers, type ScoreRecord } from '../data/sentenceNumbers';
import { storage } from '../../tests/setup/memoryStorage';

const KEY = 'aspo-workbench/calculator';
const bus = EXAMPLE_PAIRS.find((e) => e.id === 'one-sentence')!;
const NEW_CHOSEN = 'A cat naps on the warm windowsill. Its tail twitches.';
const NEW_REJECTED = 'A dog sleeps on a red sofa.';

/** A fresh store, hydrated from whatever the stand-in localStorage holds. */
async function freshStore() {
  vi.resetModules();
  return import('./inspectStore');
}

type Store = Awaited<ReturnType<typeof freshStore>>['useInspect'];

function shown(store: Store, side: 'chosen' | 'rejected') {
  const s = store.getState();
  return resolveNumbers(s.book, side, s[side], splitSentences(s[side]), { prompt: s.prompt, image: imageKey(s.image?.dataUrl) });
}

/** The source of a row's log-probs and token count, which agree unless one of them was set by hand. */
const logpsOf = (row: ResolvedNumbers) => {
  const words = new Set(LOGP_FIELDS.map((f) => row.sources[f].source));
  expect(words.size).toBe(1);
  return row.sources.policyLogp;
};

beforeEach(() => storage.clear());

describe('the Inspect store', () => {
  it("gives a pair typed over the bus example placeholders, not the example's numbers, and no S_i to train with", async () => {
    const { useInspect, chosenSimilarity } = await freshStore();
    useInspect.getState().loadExample(bus);
    expect(chosenSimilarity(useInspect.getState())).toEqual([bus.chosenNumbers[0].similarity]);
    useInspect.getState().setText('chosen', NEW_CHOSEN);
    useInspect.getState().setText('rejected', NEW_REJECTED);
    const chosen = shown(useInspect, 'chosen');
    expect(chosen.map((r) => [r.sources.similarity.source, logpsOf(r).source])).toEqual([
      ['placeholder', 'placeholder'],
      ['placeholder', 'placeholder'],
    ]);
    expect(chosen[0].numbers).not.toMatchObject({ similarity: 0.301 });
    expect(chosen[0].numbers.policyLogp).not.toBe(-5.1);
    expect(shown(useInspect, 'rejected')[0].numbers.refLogp).not.toBe(-6.6);
    expect(chosenSimilarity(useInspect.getState())).toBeNull();
    // The bus text comes back: so do its numbers.
    useInspect.getState().setText('chosen', bus.chosen);
    expect(shown(useInspect, 'chosen')[0].numbers).toEqual(bus.chosenNumbers[0]);
  });

  it("shows a model's numbers only with the image they were computed with, and again when it comes back", async () => {
    const { useInspect } = await freshStore();
    const s = useInspect.getState();
    s.setText('chosen', NEW_CHOSEN);
    s.setText('rejected', NEW_REJECTED);
    const imageA = { dataUrl: 'data:image/png;base64,AAAA', name: 'a.png' };
    useInspect.getState().setImage(imageA);
    const side = (text: string, base: number) => {
      const spans = splitSentences(text);
      return { response: text, spans, logps: spans.map((_, i) => ({ policyLogp: -base - i, refLogp: -base - i, tokens: 4 })), similarity: spans.map(() => ({ value: 0.4, truncated: false })) };
    };
    const pair = { prompt: s.prompt, image: imageKey(imageA.dataUrl) };
    const record: ScoreRecord = { pair, mllm: 'm', clip: 'c', chosen: side(NEW_CHOSEN, 10), rejected: side(NEW_REJECTED, 20) };
    const scored = (text: string) => ({ text, prompt: s.prompt, image: pair.image, tokens: [], eosIndex: 0 });
    useInspect.getState().setScores(record, { chosen: scored(NEW_CHOSEN), rejected: scored(NEW_REJECTED) });
    expect(shown(useInspect, 'chosen').map((r) => r.numbers.policyLogp)).toEqual([-10, -11]);
    useInspect.getState().setImage({ dataUrl: 'data:image/png;base64,BBBB', name: 'b.png' });
    expect(shown(useInspect, 'chosen').map((r) => logpsOf(r).source)).toEqual(['placeholder', 'placeholder']);
    useInspect.getState().setImage(imageA);
    expect(shown(useInspect, 'chosen').map((r) => r.numbers.policyLogp)).toEqual([-10, -11]);
    // A hand-set log-prob drops the model's tokens of that side only.
    useInspect.getState().setNumber('chosen', splitSentences(NEW_CHOSEN)[0].text, 'policyLogp', -2);
    expect(useInspect.getState().scored.chosen).toBeUndefined();
    expect(useInspect.getState().scored.rejected?.text).toBe(NEW_REJECTED);
    expect(shown(useInspect, 'chosen').map((r) => r.numbers.policyLogp)).toEqual([-2, -11]);
  });

  it('keeps hand-set numbers with their sentences across a reload', async () => {
    const first = await freshStore();
    first.useInspect.getState().setText('rejected', 'It is a cat. It sleeps.');
    first.useInspect.getState().setNumber('rejected', 'It sleeps.', 'policyLogp', -4.5);
    expect(JSON.parse(storage.get(KEY)!).version).toBe(4);
    const second = await freshStore();
    expect(shown(second.useInspect, 'rejected')[1].numbers.policyLogp).toBe(-4.5);
    expect(second.useInspect.getState().notice).toBeNull();
  });

  it('loads state saved by version 2: texts and settings kept, numbers of other text dropped with a notice', async () => {
    storage.set(KEY, JSON.stringify({
      version: 2,
      state: {
        prompt: bus.prompt,
        chosen: NEW_CHOSEN,
        rejected: NEW_REJECTED,
        chosenNumbers: bus.chosenNumbers,
        rejectedNumbers: bus.rejectedNumbers,
        alpha: 0.7,
        beta: 0.2,
        normalization: 'none',
        perplexitySource: 'reference',
        granularity: 'token',
        image: null,
        scored: { chosen: { text: NEW_CHOSEN, tokens: [], eosIndex: 0 } },
        truncated: { chosen: [true], rejected: [] },
        focus: { side: 'chosen', index: 1 },
      },
    }));
    const { useInspect } = await freshStore();
    const s = useInspect.getState();
    expect([s.chosen, s.rejected, s.alpha, s.beta, s.normalization, s.perplexitySource, s.granularity]).toEqual([NEW_CHOSEN, NEW_REJECTED, 0.7, 0.2, 'none', 'reference', 'token']);
    expect(s.scored).toEqual({});
    expect(s.notice).toMatch(/dropped/);
    expect(shown(useInspect, 'chosen').every((r) => logpsOf(r).source === 'placeholder' && r.sources.similarity.source === 'placeholder')).toBe(true);
    expect('chosenNumbers' in s || 'truncated' in s).toBe(false);
    s.dismissNotice();
    expect(useInspect.getState().notice).toBeNull();
  });

  it("loads state saved by version 3 with its numbers, without the model's tokens (they did not carry their sentence)", async () => {
    const first = await freshStore();
    first.useInspect.getState().setText('rejected', 'It is a cat. It sleeps.');
    first.useInspect.getState().setNumber('rejected', 'It sleeps.', 'policyLogp', -4.5);
    const saved = JSON.parse(storage.get(KEY)!);
    const oldToken = { id: 1, text: 'It', start: 0, end: 2, policy: -1, ref: -1 };
    saved.version = 3;
    saved.state.scored = { rejected: { text: 'It is a cat. It sleeps.', prompt: saved.state.prompt, image: null, tokens: [oldToken], eosIndex: -1 } };
    storage.set(KEY, JSON.stringify(saved));
    const second = await freshStore();
    expect(second.useInspect.getState().scored).toEqual({});
    expect(shown(second.useInspect, 'rejected')[1].numbers.policyLogp).toBe(-4.5);
    expect(second.useInspect.getState().notice).toBeNull();
  });

  it("loads an unchanged example saved by version 2 with the example's numbers", async () => {
    const dog = EXAMPLE_PAIRS[0];
    storage.set(KEY, JSON.stringify({ version: 2, state: { prompt: dog.prompt, chosen: dog.chosen, rejected: dog.rejected, chosenNumbers: dog.chosenNumbers, rejectedNumbers: dog.rejectedNumbers, alpha: 0.5 } }));
    const { useInspect } = await freshStore();
    expect(useInspect.getState().notice).toBeNull();
    expect(shown(useInspect, 'chosen').map((r) => r.numbers)).toEqual(dog.chosenNumbers);
    expect(shown(useInspect, 'rejected').map((r) => r.numbers)).toEqual(dog.rejectedNumbers);
  });
});
