import { describe, expect, it } from 'vitest';
import { splitSentences } from '../aspo';
import { EXAMPLE_PAIRS } from './examples';
import {
  EMPTY_BOOK,
  LOGP_FIELDS,
  imageKey,
  migratePositionalNumbers,
  placeholderNumbers,
  pruneBook,
  recordExample,
  recordScores,
  resolveNumbers,
  scoredFits,
  setByHand,
  type LogpNumbers,
  type NumberBook,
  type PairContext,
  type Provenance,
  type ResolvedNumbers,
  type ScoreRecord,
  type Side,
} from './sentenceNumbers';

const bus = EXAMPLE_PAIRS.find((e) => e.id === 'one-sentence')!;
const noImage: PairContext = { prompt: bus.prompt, image: null };

/** The source of a row's log-probs and token count, which agree unless one of them was set by hand. */
function logpsOf(row: ResolvedNumbers): Provenance {
  const [policy, ref, tokens] = LOGP_FIELDS.map((f) => row.sources[f]);
  expect(ref).toEqual(policy);
  expect(tokens).toEqual(policy);
  return policy;
}

const resolve = (book: NumberBook, side: Side, text: string, pair = noImage) => resolveNumbers(book, side, text, splitSentences(text), pair);

/** A model's numbers for a pair, made up but distinct per sentence so that a mix-up shows. */
function scores(pair: PairContext, chosen: string, rejected: string, offset = 0, clip = true): ScoreRecord {
  const side = (text: string, base: number) => {
    const spans = splitSentences(text);
    const logps: LogpNumbers[] = spans.map((_, i) => ({ policyLogp: -(base + i + offset), refLogp: -(base + i + offset + 0.5), tokens: 3 + i }));
    const similarity = clip ? spans.map((_, i) => ({ value: 0.1 * (i + 1) + offset / 100, truncated: i === 1 })) : undefined;
    return { response: text, spans, logps, similarity };
  };
  return { pair, mllm: 'tiny SmolVLM (ONNX)', clip: clip ? 'tiny CLIP' : undefined, chosen: side(chosen, 10), rejected: side(rejected, 20) };
}

describe('numbers keyed by sentence text', () => {
  it("gives a new pair typed over the bus example marked placeholders, never the example's numbers", () => {
    const book = recordExample(EMPTY_BOOK, bus);
    const text = 'A cat naps on the warm windowsill. Its tail twitches.';
    const rows = resolve(book, 'chosen', text);
    expect(rows).toHaveLength(2);
    rows.forEach((row, i) => {
      expect(row.sources.similarity.source).toBe('placeholder');
      expect(logpsOf(row).source).toBe('placeholder');
      expect(row.numbers).toEqual(placeholderNumbers(splitSentences(text)[i].text));
    });
    expect(rows[0].numbers.similarity).not.toBe(bus.chosenNumbers[0].similarity);
    expect(rows[0].numbers.policyLogp).not.toBe(bus.chosenNumbers[0].policyLogp);
  });

  it("shows an example's numbers for its own sentences, by side, and again when its text comes back", () => {
    const dog = EXAMPLE_PAIRS.find((e) => e.id === 'dog-park')!;
    let book = recordExample(EMPTY_BOOK, dog);
    // The first sentence is the same text on both sides, with different numbers.
    expect(resolve(book, 'chosen', dog.chosen).map((r) => r.numbers)).toEqual(dog.chosenNumbers);
    expect(resolve(book, 'rejected', dog.rejected).map((r) => r.numbers)).toEqual(dog.rejectedNumbers);
    // Editing the middle sentence affects that sentence only; undoing the edit brings its numbers back.
    const edited = dog.chosen.replace('red frisbee', 'blue ball');
    const rows = resolve(book, 'chosen', edited);
    expect(rows.map((r) => logpsOf(r).source)).toEqual(['example', 'placeholder', 'example']);
    expect(rows[2].numbers).toEqual(dog.chosenNumbers[2]);
    book = setByHand(book, 'chosen', splitSentences(edited)[1].text, 'policyLogp', -3);
    expect(resolve(book, 'chosen', dog.chosen)[1].numbers).toEqual(dog.chosenNumbers[1]);
    expect(resolve(book, 'chosen', edited)[1].numbers.policyLogp).toBe(-3);
  });

  it('keeps a hand-set number with its sentence wherever the sentence moves, and its whitespace does not matter', () => {
    const text = 'It is a cat. It sleeps.';
    const book = setByHand(EMPTY_BOOK, 'rejected', splitSentences(text)[1].text, 'policyLogp', -4.5);
    const moved = resolve(book, 'rejected', 'It sleeps.  It is a cat.\n');
    expect(moved[0].numbers).toEqual({ ...placeholderNumbers('It sleeps.'), policyLogp: -4.5 });
    // Only the field set by hand is the user's: the others are still placeholders.
    expect(moved[0].sources).toEqual({ similarity: { source: 'placeholder' }, policyLogp: { source: 'hand' }, refLogp: { source: 'placeholder' }, tokens: { source: 'placeholder' } });
    expect(logpsOf(moved[1]).source).toBe('placeholder');
    expect(logpsOf(resolve(book, 'chosen', 'It sleeps.')[0]).source).toBe('placeholder');
  });

  it("keys a model's numbers by image and model: another image shows placeholders, the same image brings them back", () => {
    const chosen = 'A red square. It is small.';
    const rejected = 'A green circle. Birds fly.';
    const imageA = { ...noImage, image: imageKey('data:image/png;base64,AAAA') };
    const imageB = { ...noImage, image: imageKey('data:image/png;base64,BBBB') };
    expect(imageA.image).not.toBe(imageB.image);
    const record = scores(imageA, chosen, rejected);
    const book = recordScores(EMPTY_BOOK, record);
    const onA = resolve(book, 'chosen', chosen, imageA);
    expect(onA.map((r) => r.numbers)).toEqual(
      record.chosen.logps.map((l, i) => ({ ...l, similarity: record.chosen.similarity![i].value })),
    );
    expect(onA.map((r) => [r.sources.similarity.source, logpsOf(r).source, logpsOf(r).stale, logpsOf(r).model])).toEqual([
      ['model', 'model', undefined, 'tiny SmolVLM (ONNX)'],
      ['model', 'model', undefined, 'tiny SmolVLM (ONNX)'],
    ]);
    expect(onA.map((r) => r.sources.similarity.truncated)).toEqual([undefined, true]);
    expect(resolve(book, 'rejected', rejected, imageA)[0].numbers.policyLogp).toBe(-20);
    for (const other of [imageB, noImage]) {
      const rows = resolve(book, 'chosen', chosen, other);
      expect(rows.map((r) => [r.sources.similarity.source, logpsOf(r).source])).toEqual([
        ['placeholder', 'placeholder'],
        ['placeholder', 'placeholder'],
      ]);
    }
    // Scoring on B keeps A's numbers: switching back shows them again.
    const both = recordScores(book, scores(imageB, chosen, rejected, 5));
    expect(resolve(both, 'chosen', chosen, imageB)[0].numbers.policyLogp).toBe(-15);
    expect(resolve(both, 'chosen', chosen, imageA)[0].numbers.policyLogp).toBe(-10);
  });

  it("marks a model's log-probs stale when the prompt or earlier text changed, and S_i, which depends on neither, not", () => {
    const chosen = 'A red square. It is small. The ground is blue.';
    const record = scores(noImage, chosen, 'No.', 0);
    const book = recordScores(EMPTY_BOOK, record);
    const edited = 'A red box. It is small. The ground is blue.';
    const rows = resolve(book, 'chosen', edited);
    expect(rows.map((r) => logpsOf(r).source)).toEqual(['placeholder', 'model', 'model']);
    expect(rows.map((r) => logpsOf(r).stale)).toEqual([undefined, true, true]);
    expect(rows.map((r) => r.sources.similarity.source)).toEqual(['placeholder', 'model', 'model']);
    expect(rows[1].numbers.policyLogp).toBe(record.chosen.logps[1]!.policyLogp);
    // Appending a sentence moves the end-of-turn token out of the old last sentence.
    expect(resolve(book, 'chosen', `${chosen} Done.`).map((r) => logpsOf(r).stale)).toEqual([undefined, undefined, true, undefined]);
    expect(resolve(book, 'chosen', chosen, { ...noImage, prompt: 'Another prompt?' }).every((r) => logpsOf(r).stale)).toBe(true);
    // Undoing the edit makes them fresh again.
    expect(resolve(book, 'chosen', chosen).map((r) => logpsOf(r).stale)).toEqual([undefined, undefined, undefined]);
  });

  it('tells two copies of one sentence apart by what precedes them', () => {
    const chosen = 'Yes. Yes.';
    const record = scores(noImage, chosen, 'No.');
    const rows = resolve(recordScores(EMPTY_BOOK, record), 'chosen', chosen);
    expect(rows.map((r) => r.numbers.policyLogp)).toEqual([-10, -11]);
    expect(rows.map((r) => logpsOf(r).stale)).toEqual([undefined, undefined]);
  });

  it('lets the latest of a hand edit and a scoring win, and leaves S_i alone when no CLIP ran', () => {
    const chosen = 'A red square. It is small.';
    let book = recordScores(EMPTY_BOOK, scores(noImage, chosen, 'No.'));
    book = setByHand(book, 'chosen', 'It is small.', 'similarity', 0.9);
    expect(resolve(book, 'chosen', chosen)[1].numbers.similarity).toBe(0.9);
    expect(resolve(book, 'chosen', chosen)[1].sources.similarity.source).toBe('hand');
    expect(logpsOf(resolve(book, 'chosen', chosen)[1]).source).toBe('model');
    const noClip = recordScores(book, scores(noImage, chosen, 'No.', 3, false));
    const after = resolve(noClip, 'chosen', chosen);
    expect(after[1].numbers.similarity).toBe(0.9);
    expect(after[0].sources.similarity.source).toBe('model');
    expect(after[1].numbers.policyLogp).toBe(-14);
    expect(recordScores(noClip, scores(noImage, chosen, 'No.', 7)).clock).toBeGreaterThan(noClip.clock);
    expect(resolve(recordScores(noClip, scores(noImage, chosen, 'No.', 7)), 'chosen', chosen)[1].numbers.similarity).toBeCloseTo(0.27, 12);
  });

  it("records nothing for a sentence the model's window cut off: it stays a placeholder", () => {
    const chosen = 'A red square. It is small.';
    const record = scores(noImage, chosen, 'No.');
    record.chosen.logps[1] = null;
    const rows = resolve(recordScores(EMPTY_BOOK, record), 'chosen', chosen);
    expect(rows.map((r) => logpsOf(r).source)).toEqual(['model', 'placeholder']);
    expect(rows[1].numbers.policyLogp).toBe(placeholderNumbers('It is small.').policyLogp);
  });

  it('uses model tokens only for the text, prompt and image they were computed for', () => {
    const scored = { text: 'A. B.', prompt: 'p', image: null, tokens: [], eosIndex: 0 };
    expect(scoredFits(scored, 'A. B.', { prompt: 'p', image: null })).toBe(true);
    expect(scoredFits(scored, 'A. C.', { prompt: 'p', image: null })).toBe(false);
    expect(scoredFits(scored, 'A. B.', { prompt: 'q', image: null })).toBe(false);
    expect(scoredFits(scored, 'A. B.', { prompt: 'p', image: 'x' })).toBe(false);
    expect(scoredFits(undefined, 'A. B.', { prompt: 'p', image: null })).toBe(false);
  });

  it('prunes the oldest entries beyond the limit, never those of the sentences on screen', () => {
    let book = setByHand(EMPTY_BOOK, 'chosen', 'Keep me.', 'similarity', 0.5);
    for (let i = 0; i < 10; i++) book = setByHand(book, 'chosen', `Sentence ${i}.`, 'similarity', i / 10);
    const small = pruneBook(book, [{ side: 'chosen', text: 'Keep me. ' }], 3);
    expect(Object.values(small.similarity).map((e) => e.text).sort()).toEqual(['Keep me.', 'Sentence 7.', 'Sentence 8.', 'Sentence 9.']);
    expect(pruneBook(book, [], 20)).toEqual(book);
  });

  it('every example has one set of numbers per sentence of its text', () => {
    for (const e of EXAMPLE_PAIRS) {
      expect(e.chosenNumbers.length, e.id).toBe(splitSentences(e.chosen).length);
      expect(e.rejectedNumbers.length, e.id).toBe(splitSentences(e.rejected).length);
    }
  });
});

describe('numbers saved by position (version 2)', () => {
  it("keeps an example's numbers when text and numbers are exactly the example's", () => {
    const { book, dropped } = migratePositionalNumbers(bus, EXAMPLE_PAIRS);
    expect(dropped).toBe(false);
    expect(resolve(book, 'chosen', bus.chosen)[0].numbers).toEqual(bus.chosenNumbers[0]);
    expect(logpsOf(resolve(book, 'rejected', bus.rejected)[0]).source).toBe('example');
  });

  it('drops numbers that could belong to other text, and says so', () => {
    // The bug this replaces: a new pair typed over the bus example, saved with the bus example's numbers.
    const old = { chosen: 'A cat naps. It purrs.', rejected: 'A dog barks.', chosenNumbers: bus.chosenNumbers, rejectedNumbers: bus.rejectedNumbers };
    const { book, dropped } = migratePositionalNumbers(old, EXAMPLE_PAIRS);
    expect(dropped).toBe(true);
    expect(book).toEqual(EMPTY_BOOK);
    expect(migratePositionalNumbers({ chosen: 'x', rejected: 'y', chosenNumbers: [], rejectedNumbers: [] }, EXAMPLE_PAIRS).dropped).toBe(false);
    expect(migratePositionalNumbers({}, EXAMPLE_PAIRS)).toEqual({ book: EMPTY_BOOK, dropped: false });
  });
});
