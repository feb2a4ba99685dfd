import { splitSentences, type SentenceSpan } from '../aspo';
import type { ExamplePair, SentenceNumbers } from './examples';

/**
 * The Inspector's per-sentence numbers, keyed by what they describe rather than by position: a sentence's
 * text (and, for a model's numbers, the image and the model), so an edit never hands one sentence's numbers
 * to another. S_i and the log-probs are kept apart because different models produce them and because S_i
 * depends on the sentence alone, while log-probs are conditioned on the prompt and everything before it.
 */

export type Side = 'chosen' | 'rejected';
export type LogpNumbers = Pick<SentenceNumbers, 'policyLogp' | 'refLogp' | 'tokens'>;
export type SentenceField = keyof SentenceNumbers;
export const LOGP_FIELDS = ['policyLogp', 'refLogp', 'tokens'] as const;
/** Where a shown number came from; a placeholder is a first guess that no one has given. */
export type NumberSource = 'placeholder' | 'example' | 'hand' | 'model';

interface EntryBase {
  side: Side;
  /** The sentence, trimmed: the whitespace that joins it to the next sentence is not part of what it says. */
  text: string;
  source: Exclude<NumberSource, 'placeholder'>;
  /** Order of writing: where several entries fit a sentence, the latest wins. */
  at: number;
  /** A model's entries only: the image they were computed with (an imageKey), null for none. */
  image?: string | null;
  /** A model's entries only: which model, in words. */
  model?: string;
}

export interface SimilarityEntry extends EntryBase {
  value: number;
  /** CLIP saw only the beginning of the sentence. */
  truncated?: boolean;
}

export interface LogpEntry extends EntryBase {
  /** All three from an example or a model; the one field the user set by hand. */
  value: Partial<LogpNumbers>;
  /** A model's entries only: the prompt, the text before the sentence and the sentence itself, hashed. */
  context?: string;
}

export interface NumberBook {
  similarity: Record<string, SimilarityEntry>;
  logps: Record<string, LogpEntry>;
  clock: number;
}

/**
 * A model's per-token scores of one response: valid only for this text, prompt and image. They are the one
 * source of the response's model numbers: each token knows its sentence (mapped once, when it was scored), and
 * the per-sentence sums in the book are theirs.
 */
export interface ScoredResponse {
  text: string;
  prompt: string;
  /** An imageKey, null for none. */
  image: string | null;
  /** `sentence`: the index, in splitSentences(text), of the sentence the token belongs to (the method-spec's token rule). */
  tokens: { id: number; text: string; start: number; end: number; policy: number; ref: number; sentence: number }[];
  eosIndex: number;
}

/** What besides its text a model's numbers for a sentence depend on. */
export interface PairContext {
  prompt: string;
  /** An imageKey, null for none. */
  image: string | null;
}

export interface Provenance {
  source: NumberSource;
  model?: string;
  /** A model's log-probs for this very sentence, computed with another prompt or other earlier text. */
  stale?: boolean;
  truncated?: boolean;
}

export interface ResolvedNumbers {
  numbers: SentenceNumbers;
  /** Per field, since the user may set one log-prob of a row by hand and leave the others as they were. */
  sources: Record<SentenceField, Provenance>;
}

export const EMPTY_BOOK: NumberBook = { similarity: {}, logps: {}, clock: 0 };

/** Entries kept per kind beyond those of the sentences on screen, so the persisted book stays small. */
export const BOOK_LIMIT = 400;

/** cyrb53: a fast 53-bit string hash; enough to tell images and contexts apart in one user's book. */
export function contentHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

export function imageKey(dataUrl: string | null | undefined): string | null {
  return dataUrl ? contentHash(dataUrl) : null;
}

/** A first guess for a sentence no one has numbered: about four characters a token, equal policy and reference. */
export function placeholderNumbers(sentence: string): SentenceNumbers {
  const tokens = Math.max(1, Math.round(sentence.trim().length / 4));
  const logp = Math.round(-1.2 * tokens * 100) / 100;
  return { similarity: 0.25, policyLogp: logp, refLogp: logp, tokens };
}

const textKey = (side: Side, text: string) => JSON.stringify([side, text.trim()]);
const handKey = (side: Side, text: string, field: SentenceField) => JSON.stringify([side, text.trim(), 'hand', field]);
const exampleKey = (side: Side, text: string) => JSON.stringify([side, text.trim(), 'example']);
const modelKey = (side: Side, text: string, image: string | null, model: string, context = '') =>
  JSON.stringify([side, text.trim(), 'model', image, model, context]);

/** Teacher-forced log-probs of a sentence see the prompt and all earlier text, and the last one also holds EOS. */
function logpContext(prompt: string, response: string, span: SentenceSpan, last: boolean): string {
  return contentHash(JSON.stringify([prompt, response.slice(0, span.start), span.text, last]));
}

function bySentence<E extends EntryBase>(entries: Record<string, E>): Map<string, E[]> {
  const index = new Map<string, E[]>();
  for (const entry of Object.values(entries)) {
    const key = textKey(entry.side, entry.text);
    const list = index.get(key);
    if (list) list.push(entry);
    else index.set(key, [entry]);
  }
  return index;
}

const latest = <E extends EntryBase>(entries: E[]): E | undefined =>
  entries.reduce<E | undefined>((best, e) => (!best || e.at > best.at ? e : best), undefined);

const provenance = (entry: EntryBase, extra: Partial<Provenance> = {}): Provenance =>
  entry.source === 'model' ? { source: 'model', model: entry.model, ...extra } : { source: entry.source, ...extra };

/**
 * The numbers shown for each sentence of one response, field by field. S_i: the latest entry by hand, from an
 * example, or from a model on this image. A log-prob or token count: the latest such entry whose context still
 * holds; failing that, a model's value for the same sentence on this image, marked stale; failing that, a
 * placeholder.
 */
export function resolveNumbers(book: NumberBook, side: Side, response: string, spans: SentenceSpan[], pair: PairContext): ResolvedNumbers[] {
  const similarity = bySentence(book.similarity);
  const logps = bySentence(book.logps);
  const onImage = (e: EntryBase) => e.source !== 'model' || e.image === pair.image;
  return spans.map((span, i) => {
    const numbers = placeholderNumbers(span.text);
    const sources = {} as Record<SentenceField, Provenance>;
    const key = textKey(side, span.text);
    const s = latest((similarity.get(key) ?? []).filter(onImage));
    if (s) numbers.similarity = s.value;
    sources.similarity = s ? provenance(s, s.truncated ? { truncated: true } : {}) : { source: 'placeholder' };
    const context = logpContext(pair.prompt, response, span, i === spans.length - 1);
    const candidates = (logps.get(key) ?? []).filter(onImage);
    for (const field of LOGP_FIELDS) {
      const withField = candidates.filter((e) => e.value[field] !== undefined);
      const fresh = latest(withField.filter((e) => e.source !== 'model' || e.context === context));
      const entry = fresh ?? latest(withField);
      if (entry) numbers[field] = entry.value[field]!;
      sources[field] = entry ? provenance(entry, fresh ? {} : { stale: true }) : { source: 'placeholder' };
    }
    return { numbers, sources };
  });
}

/** Drops the oldest entries beyond BOOK_LIMIT per kind, never those of the sentences given. */
export function pruneBook(book: NumberBook, keep: { side: Side; text: string }[], limit = BOOK_LIMIT): NumberBook {
  const kept = new Set(keep.map((k) => textKey(k.side, k.text)));
  const prune = <E extends EntryBase>(entries: Record<string, E>): Record<string, E> => {
    const others = Object.entries(entries)
      .filter(([, e]) => !kept.has(textKey(e.side, e.text)))
      .sort(([, a], [, b]) => b.at - a.at);
    if (others.length <= limit) return entries;
    const next = { ...entries };
    for (const [key] of others.slice(limit)) delete next[key];
    return next;
  };
  return { similarity: prune(book.similarity), logps: prune(book.logps), clock: book.clock };
}

/** A number the user set for one field of one sentence; it stays that sentence's wherever the sentence goes. */
export function setByHand(book: NumberBook, side: Side, text: string, field: SentenceField, value: number): NumberBook {
  const at = book.clock + 1;
  const base = { side, text: text.trim(), source: 'hand' as const, at };
  const key = handKey(side, text, field);
  if (field === 'similarity') return { ...book, clock: at, similarity: { ...book.similarity, [key]: { ...base, value } } };
  return { ...book, clock: at, logps: { ...book.logps, [key]: { ...base, value: { [field]: value } } } };
}

/** An example's illustrative numbers, for the sentences of its own text. */
export function recordExample(book: NumberBook, example: ExamplePair): NumberBook {
  const at = book.clock + 1;
  const similarity = { ...book.similarity };
  const logps = { ...book.logps };
  for (const side of ['chosen', 'rejected'] as const) {
    const numbers = side === 'chosen' ? example.chosenNumbers : example.rejectedNumbers;
    splitSentences(example[side]).forEach((span, i) => {
      const n = numbers[i];
      if (!n) return;
      const base = { side, text: span.text.trim(), source: 'example' as const, at };
      similarity[exampleKey(side, span.text)] = { ...base, value: n.similarity };
      logps[exampleKey(side, span.text)] = { ...base, value: { policyLogp: n.policyLogp, refLogp: n.refLogp, tokens: n.tokens } };
    });
  }
  return { similarity, logps, clock: at };
}

export interface SideScores {
  response: string;
  spans: SentenceSpan[];
  /** null for a sentence the model gave no token (its window cut the response before it): nothing is recorded. */
  logps: (LogpNumbers | null)[];
  /** Absent when no CLIP ran (no image or no CLIP model): S_i is then left as it was. */
  similarity?: { value: number; truncated: boolean }[];
}

export interface ScoreRecord {
  pair: PairContext;
  mllm: string;
  clip?: string;
  chosen: SideScores;
  rejected: SideScores;
}

/** What the models said about each sentence of both responses, keyed by sentence, image and model. */
export function recordScores(book: NumberBook, scores: ScoreRecord): NumberBook {
  const at = book.clock + 1;
  const similarity = { ...book.similarity };
  const logps = { ...book.logps };
  const { image } = scores.pair;
  for (const side of ['chosen', 'rejected'] as const) {
    const { response, spans, logps: values, similarity: sims } = scores[side];
    spans.forEach((span, i) => {
      const base = { side, text: span.text.trim(), source: 'model' as const, at, image };
      const context = logpContext(scores.pair.prompt, response, span, i === spans.length - 1);
      const value = values[i];
      if (value) logps[modelKey(side, span.text, image, scores.mllm, context)] = { ...base, model: scores.mllm, context, value };
      const s = sims?.[i];
      if (s && scores.clip) {
        similarity[modelKey(side, span.text, image, scores.clip)] = { ...base, model: scores.clip, value: s.value, ...(s.truncated ? { truncated: true } : {}) };
      }
    });
  }
  return { similarity, logps, clock: at };
}

/** A model's tokens apply only to the text, prompt and image they were computed for. */
export function scoredFits(scored: ScoredResponse | undefined, text: string, pair: PairContext): scored is ScoredResponse {
  return !!scored && scored.text === text && scored.prompt === pair.prompt && scored.image === pair.image;
}

/**
 * Numbers saved before they were keyed by text (a list per response, by position) cannot be told apart from
 * numbers left over from other text, except where text and numbers are exactly a bundled example's.
 */
export function migratePositionalNumbers(old: {
  chosen?: unknown;
  rejected?: unknown;
  chosenNumbers?: unknown;
  rejectedNumbers?: unknown;
}, examples: ExamplePair[]): { book: NumberBook; dropped: boolean } {
  const same = (a: unknown, b: SentenceNumbers[]) => JSON.stringify(a) === JSON.stringify(b);
  const example = examples.find(
    (e) => e.chosen === old.chosen && e.rejected === old.rejected && same(old.chosenNumbers, e.chosenNumbers) && same(old.rejectedNumbers, e.rejectedNumbers),
  );
  if (example) return { book: recordExample(EMPTY_BOOK, example), dropped: false };
  const had = (n: unknown) => Array.isArray(n) && n.length > 0;
  return { book: EMPTY_BOOK, dropped: had(old.chosenNumbers) || had(old.rejectedNumbers) };
}
