/**
 * The tiny models' byte-level BPE tokenizers (GPT-2 / SmolLM2 style, and CLIP's arrangement), trained on a small
 * built-in corpus with a fully deterministic merge order, written as tokenizer.json the tokenizers library reads.
 */

/** GPT-2's reversible byte → printable-unicode map used by the ByteLevel pre-tokenizer. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

/** The built-in training corpus: plain English about pictures, shapes and colours. */
export const TINY_CORPUS = `
The image shows a red circle on the left and a blue square on the right.
What is in this image? There is a small green triangle above a large yellow star.
Describe the picture. The picture shows two cats sitting on a wooden table near the window.
A dog is running on the grass in the park. The sky is blue and there are white clouds.
How many circles are there in the image? There are three circles and one square.
The red ball is next to the blue box. The green tree is behind the small house.
Is there a person in the photo? Yes, a woman is holding a cup of coffee.
What color is the car? The car is black and it is parked in front of the building.
The answer is correct. The answer is wrong. This sentence describes what the image shows.
A man is riding a bicycle on the street. The street is wet because it was raining.
There is no cat in this picture. The object in the center is a purple hexagon.
The image contains a bowl of fruit: apples, bananas and oranges on a white plate.
User: What do you see? Assistant: I see a brown horse standing in a field of flowers.
The left side of the image is dark and the right side is bright.
Each shape has a color and a position. The shapes do not touch each other.
The small orange square is below the large blue circle, and the black line crosses the image.
Please describe the scene in detail. The scene is a kitchen with a table, two chairs and a lamp.
A bird is flying over the water. The boat on the lake is red and white.
The text in the image says hello. The number on the door is seven.
I think the image shows a city at night with many lights and tall buildings.
The children are playing with a ball on the beach near the sea.
The picture does not contain any animals. There are only shapes and colors.
This is a photo of a mountain covered with snow under a clear sky.
The woman is wearing a red dress and the man is wearing a blue shirt.
The image is a drawing of a house with a door, two windows and a chimney.
There are four triangles, two squares and one circle in the picture.
The green circle is in the top left corner and the yellow square is in the bottom right corner.
`;

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Pre-tokenize like Sequence[Digits(individual), ByteLevel(use_regex)]: words as byte-unicode strings. */
export function preTokenize(text: string): string[] {
  const b2u = bytesToUnicode();
  const enc = new TextEncoder();
  const out: string[] = [];
  for (const piece of text.split(/(\p{N})/u)) {
    if (piece === '') continue;
    for (const m of piece.matchAll(GPT2_SPLIT)) {
      out.push(Array.from(enc.encode(m[0]), (b) => b2u[b]).join(''));
    }
  }
  return out;
}

/**
 * Learn `numMerges` BPE merges from `corpus` (classic pair-count BPE; ties
 * broken by the lexicographically smallest pair, so the result is fully
 * deterministic). Stops early when every word is a single symbol.
 */
export function trainBpe(corpus: string, numMerges: number): Array<[string, string]> {
  const counts = new Map<string, number>();
  for (const w of preTokenize(corpus)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([w, c]) => ({ syms: Array.from(w), count: c }));
  const merges: Array<[string, string]> = [];
  for (let k = 0; k < numMerges; k++) {
    const pairs = new Map<string, number>();
    for (const { syms, count } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = syms[i] + '\u0000' + syms[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [key, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === null) break;
    const [a, b] = best.split('\u0000');
    merges.push([a, b]);
    for (const w of words) {
      const s = w.syms;
      const next: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(s[i]);
      }
      w.syms = next;
    }
  }
  return merges;
}

/** Special tokens at the start of the vocabulary (ids 0, 1, 2 as in SmolLM2). */
export const BASE_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** The Idefics3 image tokens, appended after the BPE vocabulary in SmolVLM's order. */
export function imageSpecialTokens(): string[] {
  const rows: string[] = [];
  for (let r = 1; r <= 6; r++) for (let c = 1; c <= 6; c++) rows.push(`<row_${r}_col_${c}>`);
  return ['<global-img>', ...rows, '<fake_token_around_image>', '<image>', '<end_of_utterance>'];
}

export const NUM_MERGES = 400;

export interface TinyTokenizer {
  /** tokenizer.json contents */
  json: Record<string, unknown>;
  /** total number of ids (model.vocab + added tokens) */
  size: number;
  /** id of every special token */
  specialIds: Record<string, number>;
}

/** The `model` entry of a tokenizer.json for a byte-level BPE, as the tokenizers library writes it. */
function bpeModel(vocab: Record<string, number>, merges: Array<[string, string]>) {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges: merges.map(([a, b]) => `${a} ${b}`),
  };
}

/** A byte-level BPE tokenizer.json learnt from `corpus`; `withImageTokens` adds the SmolVLM tokens. */
export function buildTokenizer(withImageTokens: boolean, corpus: string = TINY_CORPUS, numMerges: number = NUM_MERGES): TinyTokenizer {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  let next = 0;
  for (const t of BASE_SPECIAL_TOKENS) vocab[t] = next++;
  for (let b = 0; b < 256; b++) vocab[b2u[b]] = next++;
  const merges = trainBpe(corpus, numMerges);
  for (const [a, b] of merges) {
    if (!(a + b in vocab)) vocab[a + b] = next++;
  }
  const specials: string[] = [...BASE_SPECIAL_TOKENS];
  const specialIds: Record<string, number> = {};
  BASE_SPECIAL_TOKENS.forEach((t, i) => (specialIds[t] = i));
  if (withImageTokens) {
    for (const t of imageSpecialTokens()) {
      specialIds[t] = next++;
      specials.push(t);
    }
  }
  const added_tokens = specials.map((content) => ({
    id: specialIds[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocab, merges),
  };
  return { json, size: next, specialIds };
}

export const CLIP_NUM_MERGES = 150;
export const CLIP_BOS = '<|startoftext|>';
export const CLIP_EOS = '<|endoftext|>';

/**
 * A byte-level BPE tokenizer.json in CLIP's arrangement: lower-casing normalizer, the two special tokens at the
 * end of the vocabulary (`<|startoftext|>` = V − 2, `<|endoftext|>` = V − 1, as in openai/clip-vit-base-patch32),
 * and a post-processor that wraps every text in them. The merges are learnt from `corpus` (lower-cased).
 */
export function buildClipTokenizer(corpus: string = TINY_CORPUS, numMerges: number = CLIP_NUM_MERGES): TinyTokenizer {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  let next = 0;
  for (let b = 0; b < 256; b++) vocab[b2u[b]] = next++;
  const merges = trainBpe(corpus.toLowerCase(), numMerges);
  for (const [a, b] of merges) {
    if (!(a + b in vocab)) vocab[a + b] = next++;
  }
  const specialIds: Record<string, number> = { [CLIP_BOS]: next, [CLIP_EOS]: next + 1 };
  next += 2;
  const added_tokens = [CLIP_BOS, CLIP_EOS].map((content) => ({
    id: specialIds[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  }));
  const special = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(CLIP_BOS), { Sequence: { id: 'A', type_id: 0 } }, special(CLIP_EOS)],
      pair: [
        special(CLIP_BOS),
        { Sequence: { id: 'A', type_id: 0 } },
        special(CLIP_EOS),
        { Sequence: { id: 'B', type_id: 0 } },
        special(CLIP_EOS),
      ],
      special_tokens: Object.fromEntries(
        [CLIP_BOS, CLIP_EOS].map((t) => [t, { id: t, ids: [specialIds[t]], tokens: [t] }]),
      ),
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocab, merges),
  };
  return { json, size: next, specialIds };
}

/** `added_tokens_decoder` of a tokenizer_config.json: every special token by id. */
export function addedTokensDecoder(tok: TinyTokenizer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [content, id] of Object.entries(tok.specialIds).sort((a, b) => a[1] - b[1])) {
    out[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  return out;
}
