/**
 * Sentence splitting for per-sentence credit assignment (method spec, "Sentences").
 *
 * A small hand-written scanner rather than Intl.Segmenter: ICU (Node 20) breaks after
 * "Mr.", "e.g." and between initials, and its output follows the runtime's ICU version.
 * Offsets are JS string indices (UTF-16 code units); a boundary always sits on a
 * non-whitespace character after whitespace or after a script's own terminator, so it
 * never cuts a surrogate pair.
 *
 * Rules:
 * - Every "\n" ends a sentence (so each list item line is its own sentence).
 * - A run of `.` `!` `?` `…`, plus any closing quotes/brackets right after it, ends a
 *   sentence when whitespace and then more text follow on the same line.
 * - A run holding a terminator of a script written without spaces after its sentences
 *   (CJK `。！？．｡`) or one that only ever ends a sentence (Devanagari `।॥`, Arabic `؟`,
 *   Urdu `۔`, Armenian `։`, Ethiopic `።፧`, Myanmar `။`, Khmer `។`) ends a sentence before
 *   any more text on the line, with or without whitespace, whatever its case; except a
 *   full-width `．` inside a number or Latin word ("３．５", "ｅｘａｍｐｌｅ．ｃｏｍ") or after an
 *   enumerator ("１．"), and a quoted exclamation followed by Hiragana (「行こう！」と言った),
 *   the Japanese counterpart of `"Stop!" he said`.
 * - Whitespace after a sentence belongs to it; leading whitespace to the first one.
 * - A span with no letter or digit ("?!", "---", "。。", an emoji) is not a sentence of its
 *   own: it joins the sentence before it, or the one after it when it opens the text. Text
 *   with no letter or digit at all is one span, like whitespace-only text.
 * - A Latin terminator followed by a word starting with a lowercase letter never ends a
 *   sentence: this keeps "e.g. this", "etc. and", "5 p.m. today", "wait... what" and
 *   `"Stop!" he said` together, and covers abbreviations missing from the lists below.
 * - Before an uppercase word a terminator ends a sentence, except after a title /
 *   Latin / month abbreviation (ALWAYS_CONTINUE), after "No." / "Fig." / "p." before a
 *   number, after an enumerator ("1.", "a.", "iv.") opening the sentence or following a
 *   colon, and after initials (see isInitial).
 * - "etc.", "a.m.", "U.S." and unknown abbreviations before an uppercase word end the
 *   sentence: at the end of a list that is the usual reading ("apples, pears, etc. Then").
 * - A Latin dot with no whitespace after it (3.5, $3.50, example.com, file.txt) never splits.
 */

export interface SentenceSpan {
  text: string;
  start: number;
  end: number;
}

const LATIN_TERMINATORS = '.!?…';
const FULL_WIDTH_STOP = '．';
// Terminators that end a sentence with no whitespace after them (see the rules above).
const SCRIPT_TERMINATORS = `。！？${FULL_WIDTH_STOP}｡।॥؟۔։።፧။។`;
const TERMINATORS = LATIN_TERMINATORS + SCRIPT_TERMINATORS;
const CLOSERS = '"\'”’»)]}*_`」』）】〕〉》〗〙〛＂＇］｝';
const OPENERS = /^["'“‘«([{*_`¿¡「『（【〔〈《〖〘〚＂＇［｛]+/u;
const NEXT_FIRST_CHAR = /["'“‘«([{*_`¿¡「『（【〔〈《〖〘〚＂＇［｛]*(.)/suy;
const CONTENT = /[\p{L}\p{N}]/u;

// Abbreviations that (almost) never end a sentence, whatever follows on the line.
const ALWAYS_CONTINUE = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'st', 'mt', 'sr', 'gen', 'gov', 'sen', 'rep', 'capt',
  'lt', 'col', 'sgt', 'rev', 'hon', 'vs', 'e.g', 'i.e', 'cf', 'viz', 'approx',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
]);
// Abbreviations that only continue before a number: "No. 5" but "No. That is wrong."
const BEFORE_NUMBER = new Set(['no', 'nos', 'vol', 'fig', 'p', 'pp', 'eq', 'ch', 'sec']);
// Letters with case only: a one-syllable Hangul or Han answer ("네.") is a sentence, not a list label.
const ENUMERATOR = /^(\p{Nd}{1,3}|\p{Lu}|\p{Ll}|[ivx]{1,4}|[IVX]{1,4})$/u;
const INITIALS = /^\p{Lu}(\.\p{Lu})*$/u;

const isSpace = (ch: string | undefined): boolean => ch !== undefined && /\s/u.test(ch);

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text[i])) i++;
  return i;
}

/**
 * Start of the whitespace-delimited word ending at `end`, no earlier than `floor` (the sentence start:
 * after a CJK terminator the previous sentence touches this one).
 */
function wordStartBefore(text: string, end: number, floor: number): number {
  while (end > floor && !isSpace(text[end - 1])) end--;
  return end;
}

function nextWord(text: string, start: number): string {
  let end = start;
  while (end < text.length && !isSpace(text[end])) end++;
  return text.slice(start, end);
}

/** An enumerator ("1.", "a.", "iv.") opens a list at the start of a sentence or after a colon. */
function opensList(text: string, wordStart: number, sentenceStart: number): boolean {
  let prev = wordStart;
  while (prev > sentenceStart && isSpace(text[prev - 1])) prev--;
  return prev === sentenceStart || text[prev - 1] === ':' || text[prev - 1] === '：';
}

/**
 * Initials ("J. R. R. Tolkien", "George W. Bush", "J.R.R. Tolkien", "The U.S. Army")
 * versus a one-letter answer ending a sentence ("The answer is B. This ..."): a
 * capital letter is taken as an initial when it opens the sentence, when another
 * initial follows, or when a capitalised word or initial precedes it. So "by J. Smith"
 * and "the U.S. He" split, "Option B. Then" does not.
 */
function isInitial(text: string, wordStart: number, sentenceStart: number, next: number): boolean {
  if (wordStart === sentenceStart) return true;
  if (/^\p{Lu}(\.\p{Lu})*\.$/u.test(nextWord(text, next))) return true;
  let prevEnd = wordStart;
  while (prevEnd > sentenceStart && isSpace(text[prevEnd - 1])) prevEnd--;
  const prev = text.slice(wordStartBefore(text, prevEnd, sentenceStart), prevEnd).replace(OPENERS, '');
  return /^\p{Lu}(\p{L}*|(\.\p{Lu})*\.)$/u.test(prev);
}

/** Whether the Latin terminator run text[runStart, runEnd), followed by whitespace and more text at `next`, ends a sentence. */
function endsSentence(
  text: string,
  runStart: number,
  runEnd: number,
  next: number,
  sentenceStart: number,
): boolean {
  NEXT_FIRST_CHAR.lastIndex = next;
  const first = NEXT_FIRST_CHAR.exec(text)?.[1] ?? '';
  if (/\p{Ll}/u.test(first)) return false;
  if (text.slice(runStart, runEnd) !== '.') return true;

  const wordStart = wordStartBefore(text, runStart, sentenceStart);
  const word = text.slice(wordStart, runStart).replace(OPENERS, '');
  const key = word.toLowerCase();
  if (ALWAYS_CONTINUE.has(key)) return false;
  if (BEFORE_NUMBER.has(key) && /\p{N}/u.test(first)) return false;
  if (ENUMERATOR.test(word) && opensList(text, wordStart, sentenceStart)) return false;
  if (INITIALS.test(word) && /\p{Lu}/u.test(first)) {
    return !isInitial(text, wordStart, sentenceStart, next);
  }
  return true;
}

/**
 * Whether a run holding a script terminator, text[runStart, runEnd) and its closers up to `end`, ends a
 * sentence before the text at `next` (right at `end` when no whitespace follows).
 */
function scriptRunEnds(text: string, runStart: number, runEnd: number, end: number, next: number, sentenceStart: number): boolean {
  const touching = next === end;
  if (text.slice(runStart, runEnd) === FULL_WIDTH_STOP) {
    const alnum = /[\p{N}\p{sc=Latin}]/u;
    if (touching && runEnd === end && alnum.test(text[runStart - 1] ?? '') && alnum.test(text[next])) return false;
    let digitsStart = runStart;
    while (digitsStart > sentenceStart && /\p{Nd}/u.test(text[digitsStart - 1])) digitsStart--;
    const digits = runStart - digitsStart;
    if (digits >= 1 && digits <= 3 && opensList(text, digitsStart, sentenceStart)) return false;
  }
  return !(touching && end > runEnd && /\p{sc=Hiragana}/u.test(text[next]));
}

const hasContent = (text: string, start: number, end: number): boolean => CONTENT.test(text.slice(start, end));

/**
 * Drops the boundaries around spans with no letter or digit: such a span joins the sentence before it, or
 * the first sentence with content when it opens the text.
 */
function mergeContentless(text: string, starts: number[]): number[] {
  const endOf = (k: number) => (k + 1 < starts.length ? starts[k + 1] : text.length);
  const kept = [0];
  let keptHasContent = hasContent(text, 0, endOf(0));
  for (let k = 1; k < starts.length; k++) {
    if (!hasContent(text, starts[k], endOf(k))) continue;
    if (keptHasContent) kept.push(starts[k]);
    keptHasContent = true;
  }
  return kept;
}

/**
 * Contiguous sentence spans that concatenate back to `text` exactly, so that every
 * token can be mapped to a sentence. "" gives []; text without a letter or digit
 * (whitespace, punctuation, emoji) gives one span.
 */
export function splitSentences(text: string): SentenceSpan[] {
  if (text === '') return [];
  const starts = [0];
  let sentenceStart = skipSpace(text, 0);
  let i = sentenceStart;
  while (i < text.length) {
    if (text[i] === '\n') {
      const next = skipSpace(text, i + 1);
      if (next < text.length) starts.push((sentenceStart = next));
      i = next;
      continue;
    }
    if (!TERMINATORS.includes(text[i])) {
      i++;
      continue;
    }
    let runEnd = i;
    let script = false;
    while (runEnd < text.length && TERMINATORS.includes(text[runEnd])) {
      script ||= SCRIPT_TERMINATORS.includes(text[runEnd]);
      runEnd++;
    }
    let end = runEnd;
    while (end < text.length && CLOSERS.includes(text[end])) end++;
    const next = skipSpace(text, end);
    // A line break in the gap is left to the "\n" branch above.
    if (next < text.length && !text.slice(end, next).includes('\n')) {
      const ends = script
        ? scriptRunEnds(text, i, runEnd, end, next, sentenceStart)
        : next > end && endsSentence(text, i, runEnd, next, sentenceStart);
      if (ends) starts.push((sentenceStart = next));
    }
    i = end;
  }
  const kept = mergeContentless(text, starts);
  return kept.map((start, k) => {
    const end = k + 1 < kept.length ? kept[k + 1] : text.length;
    return { text: text.slice(start, end), start, end };
  });
}

/** Index of the last sentence starting at or before `pos`. */
function sentenceAt(sentences: SentenceSpan[], pos: number): number {
  let lo = 0;
  let hi = sentences.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sentences[mid].start <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Sentence index of each token, so token-level quantities can be pooled per sentence.
 * A token belongs where its first non-whitespace character is; a whitespace-only token
 * stays with the previous token (a token cannot open a sentence with spacing), and the
 * EOS token, whose offsets are often empty or past the end, closes the last sentence.
 * `sentences` must be the output of splitSentences for the text the offsets index into.
 */
export function assignTokensToSentences(
  sentences: SentenceSpan[],
  tokenOffsets: [number, number][],
  eosIndex?: number,
): number[] {
  if (sentences.length === 0 && tokenOffsets.length > 0) {
    throw new Error('assignTokensToSentences: tokens given but there are no sentences (empty text)');
  }
  sentences.forEach((s, k) => {
    const expectedStart = k === 0 ? 0 : sentences[k - 1].end;
    if (s.start !== expectedStart || s.end !== s.start + s.text.length) {
      throw new Error(`assignTokensToSentences: sentence ${k} is not contiguous with the previous ones`);
    }
  });
  const text = sentences.map((s) => s.text).join('');
  const result: number[] = [];
  tokenOffsets.forEach(([start, end], k) => {
    if (k === eosIndex) {
      result.push(sentences.length - 1);
      return;
    }
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= text.length)) {
      throw new Error(
        `assignTokensToSentences: token ${k} has offsets [${start}, ${end}] outside the text (length ${text.length})`,
      );
    }
    const firstChar = skipSpace(text, start);
    if (firstChar >= end) result.push(k === 0 ? 0 : result[k - 1]);
    else result.push(sentenceAt(sentences, firstChar));
  });
  return result;
}
