import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SCRIPT_CASES } from '../../tests/fixtures/sentenceScripts';
import { assignTokensToSentences, splitSentences, type SentenceSpan } from './sentences';

interface Case {
  input: string;
  expected: string[];
}

const cases: Case[] = [
  // basics
  { input: '', expected: [] },
  { input: '   ', expected: ['   '] },
  { input: 'Hello world', expected: ['Hello world'] },
  { input: 'One. Two. Three.', expected: ['One. ', 'Two. ', 'Three.'] },
  { input: '  Leading space. Next.  ', expected: ['  Leading space. ', 'Next.  '] },
  { input: 'Wide gap.   \t Next.', expected: ['Wide gap.   \t ', 'Next.'] },
  // ! ? and runs
  { input: 'Stop! Go? Yes.', expected: ['Stop! ', 'Go? ', 'Yes.'] },
  { input: 'Really?! I think so.', expected: ['Really?! ', 'I think so.'] },
  { input: 'Wait... What happened?', expected: ['Wait... ', 'What happened?'] },
  { input: 'Wait… What happened?', expected: ['Wait… ', 'What happened?'] },
  { input: 'I was thinking... maybe not.', expected: ['I was thinking... maybe not.'] },
  { input: 'The year 2020. 5 people came.', expected: ['The year 2020. ', '5 people came.'] },
  // abbreviations
  { input: 'Mr. Smith met Mrs. Jones and Ms. Lee.', expected: ['Mr. Smith met Mrs. Jones and Ms. Lee.'] },
  { input: 'Dr. Who and Prof. X met at St. Louis.', expected: ['Dr. Who and Prof. X met at St. Louis.'] },
  { input: 'It was Federer vs. Nadal. Nadal won.', expected: ['It was Federer vs. Nadal. ', 'Nadal won.'] },
  { input: 'Use fruit, e.g. apples. Or pears.', expected: ['Use fruit, e.g. apples. ', 'Or pears.'] },
  { input: 'Use a language, e.g. Python or Go.', expected: ['Use a language, e.g. Python or Go.'] },
  { input: 'The base case, i.e. Zero, is trivial.', expected: ['The base case, i.e. Zero, is trivial.'] },
  { input: 'Apples, pears, etc. and more.', expected: ['Apples, pears, etc. and more.'] },
  { input: 'Apples, pears, etc. Then we ate.', expected: ['Apples, pears, etc. ', 'Then we ate.'] },
  { input: 'It started Jan. 5 and ended Feb. 20 this year.', expected: ['It started Jan. 5 and ended Feb. 20 this year.'] },
  { input: 'Due Dec. The rest later.', expected: ['Due Dec. The rest later.'] },
  { input: 'It weighs approx. 5 kg. Heavy.', expected: ['It weighs approx. 5 kg. ', 'Heavy.'] },
  { input: 'See item No. 5 below.', expected: ['See item No. 5 below.'] },
  { input: 'No. That is wrong.', expected: ['No. ', 'That is wrong.'] },
  { input: 'As shown in Fig. 3 and on p. 12.', expected: ['As shown in Fig. 3 and on p. 12.'] },
  { input: 'Acme Corp. is big. It grows.', expected: ['Acme Corp. is big. ', 'It grows.'] },
  // decimals, prices, urls, files
  { input: 'Pi is 3.14 roughly. Yes.', expected: ['Pi is 3.14 roughly. ', 'Yes.'] },
  { input: 'It costs $3.50. That is cheap.', expected: ['It costs $3.50. ', 'That is cheap.'] },
  { input: 'Growth was 0.5% this year. Good.', expected: ['Growth was 0.5% this year. ', 'Good.'] },
  { input: 'Visit example.com for info. Thanks.', expected: ['Visit example.com for info. ', 'Thanks.'] },
  { input: 'Go to https://www.example.com/a.b?x=1. Then click.', expected: ['Go to https://www.example.com/a.b?x=1. ', 'Then click.'] },
  { input: 'Mail john.doe@mail.example.org. He replies.', expected: ['Mail john.doe@mail.example.org. ', 'He replies.'] },
  { input: 'Open file.txt and main.ts now.', expected: ['Open file.txt and main.ts now.'] },
  { input: 'Version 2.0.1 is out. Update.', expected: ['Version 2.0.1 is out. ', 'Update.'] },
  // initials and dotted acronyms
  { input: 'J. R. R. Tolkien wrote it.', expected: ['J. R. R. Tolkien wrote it.'] },
  { input: 'It was written by J. R. R. Tolkien. Then it sold.', expected: ['It was written by J. R. R. Tolkien. ', 'Then it sold.'] },
  { input: 'President George W. Bush spoke.', expected: ['President George W. Bush spoke.'] },
  { input: 'J.R.R. Tolkien was British.', expected: ['J.R.R. Tolkien was British.'] },
  { input: 'The answer is B. This is because of x.', expected: ['The answer is B. ', 'This is because of x.'] },
  { input: 'The U.S. economy grew.', expected: ['The U.S. economy grew.'] },
  { input: 'The U.S. Army marched.', expected: ['The U.S. Army marched.'] },
  { input: 'I moved to the U.S. He stayed in the U.K. for years.', expected: ['I moved to the U.S. ', 'He stayed in the U.K. for years.'] },
  { input: 'We meet at 5 p.m. today.', expected: ['We meet at 5 p.m. today.'] },
  { input: 'We met at 5 p.m. Then we left.', expected: ['We met at 5 p.m. ', 'Then we left.'] },
  // enumerators
  { input: '1. First item\n2. Second item', expected: ['1. First item\n', '2. Second item'] },
  { input: 'Steps: 1. Mix it. 2. Bake it.', expected: ['Steps: 1. Mix it. ', '2. Bake it.'] },
  { input: 'I counted 3. Then I stopped.', expected: ['I counted 3. ', 'Then I stopped.'] },
  { input: 'a. Apples\nb. Bananas', expected: ['a. Apples\n', 'b. Bananas'] },
  { input: 'iv. Fourth point. Done.', expected: ['iv. Fourth point. ', 'Done.'] },
  { input: '2) Second. Third.', expected: ['2) Second. ', 'Third.'] },
  { input: 'A. Option one\nB. Option two', expected: ['A. Option one\n', 'B. Option two'] },
  // quotes and brackets
  { input: 'He said "Stop." Then he left.', expected: ['He said "Stop." ', 'Then he left.'] },
  { input: '(See above.) Next point.', expected: ['(See above.) ', 'Next point.'] },
  { input: '"Stop!" he said. Then ran.', expected: ['"Stop!" he said. ', 'Then ran.'] },
  { input: 'She said “Go.” We went.', expected: ['She said “Go.” ', 'We went.'] },
  { input: 'Really. "Yes," she said.', expected: ['Really. ', '"Yes," she said.'] },
  { input: 'See [1.] Next [2.]', expected: ['See [1.] ', 'Next [2.]'] },
  { input: 'This is **important.** Read it.', expected: ['This is **important.** ', 'Read it.'] },
  // line breaks and lists
  { input: 'Line one\nLine two', expected: ['Line one\n', 'Line two'] },
  { input: 'Para one.\n\nPara two.\n', expected: ['Para one.\n\n', 'Para two.\n'] },
  { input: 'Title\r\nBody text', expected: ['Title\r\n', 'Body text'] },
  { input: '\n\nStarts late.', expected: ['\n\nStarts late.'] },
  { input: 'Dr.\nSmith', expected: ['Dr.\n', 'Smith'] },
  { input: 'Items:\n- apples\n- pears\n* plums', expected: ['Items:\n', '- apples\n', '- pears\n', '* plums'] },
  { input: 'Intro.\n\n1. Mr. Smith came. He sat.\n2. Done', expected: ['Intro.\n\n', '1. Mr. Smith came. ', 'He sat.\n', '2. Done'] },
  // unicode
  { input: 'Émile left. Über cool. ok', expected: ['Émile left. ', 'Über cool. ok'] },
  { input: 'Nice! 😀 Great.', expected: ['Nice! ', '😀 Great.'] },
  // no letter or digit: one span, or part of the sentence beside it
  { input: '?!', expected: ['?!'] },
  { input: '... !!', expected: ['... !!'] },
  { input: '?! ?!', expected: ['?! ?!'] },
  { input: '。。', expected: ['。。'] },
  { input: '。 。！', expected: ['。 。！'] },
  { input: 'Hello. !!! World.', expected: ['Hello. !!! ', 'World.'] },
  { input: '!!! Hello. World.', expected: ['!!! Hello. ', 'World.'] },
  { input: 'Intro\n---\nBody', expected: ['Intro\n---\n', 'Body'] },
  { input: 'Nice! 😀', expected: ['Nice! 😀'] },
  { input: 'Done! 42.', expected: ['Done! ', '42.'] },
];

function checkSpans(input: string, spans: SentenceSpan[]): void {
  expect(spans.map((s) => s.text).join('')).toBe(input);
  let pos = 0;
  for (const s of spans) {
    expect(s.start).toBe(pos);
    expect(s.end).toBeGreaterThan(s.start);
    expect(s.text).toBe(input.slice(s.start, s.end));
    pos = s.end;
  }
  expect(pos).toBe(input.length);
}

describe('splitSentences', () => {
  it('has a large table of hard cases, and cases in every script it knows', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
    expect(SCRIPT_CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each([...cases, ...SCRIPT_CASES])('splits $input', ({ input, expected }) => {
    const spans = splitSentences(input);
    expect(spans.map((s) => s.text)).toEqual(expected);
    expect(expected.join('')).toBe(input);
    checkSpans(input, spans);
  });

  // Mostly tricky fragments, so that rare contexts ("Hi. J. The") do come up.
  const fragment = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.constantFrom(
        'Dr.', 'Mr. ', '3.5', '$3.50', '\n', '\n\n', '! ', '? ', '?! ', '. ', '...', '… ', 'e.g. ', 'etc. ',
        'U.S.', 'U.S. ', 'J.R.R. ', 'J. ', 'A. ', '1. ', '2) ', '- ', '* ', '"', '“', '”', ')', '(', ':',
        ' ', '  ', '\t', '\r\n', 'Hello', 'world', 'The', 'a', 'No.', 'example.com', '😀', 'é', 'Über', 'Tolkien',
        '---',
      ),
    },
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        '。', '！', '？', '．', '｡', '……', '「', '」', '『', '』', '（', '）', '：', '\u3000', '我们', '你好', 'です',
        'と', 'そして', '３', '５', '１．', 'ｅ', '네', '좋아요', '।', '॥', 'नमस्ते', 'है', '؟', '۔', 'مرحبا',
        'كتاب', '։', 'Բարև', '።', 'ሰላም', '။', '។', '？！',
      ),
    },
    fc.string({ maxLength: 6 }),
    fc.string({ unit: 'binary', maxLength: 4 }),
  );
  const textArb = fc.oneof(
    fc.array(fragment, { maxLength: 25 }).map((parts) => parts.join('')),
    fc.string({ unit: 'binary' }),
  );

  it('reconstructs any text exactly with contiguous, non-empty spans', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const spans = splitSentences(text);
        expect(spans.length === 0).toBe(text === '');
        checkSpans(text, spans);
      }),
      { numRuns: 2000 },
    );
  });

  const content = /[\p{L}\p{N}]/u;

  it('gives every sentence a letter or digit, unless the text has none and is one span', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const spans = splitSentences(text);
        if (!content.test(text)) expect(spans.length).toBeLessThanOrEqual(1);
        else for (const s of spans) expect(s.text).toMatch(content);
      }),
      { numRuns: 2000 },
    );
  });

  it('puts line breaks only between one line with letters or digits and lines without', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        for (const s of splitSentences(text)) {
          expect(s.text.trim().split('\n').filter((line) => content.test(line)).length).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('starts every sentence but the first on non-whitespace after whitespace or a script terminator', () => {
    const scriptEnd = /[。！？．｡।॥؟۔։።፧။។][。！？．｡।॥؟۔։።፧။។.!?…]*[」』）】〕〉》〗〙〛＂＇］｝"'”’»)\]}*_`]*$/u;
    fc.assert(
      fc.property(textArb, (text) => {
        for (const s of splitSentences(text).slice(1)) {
          expect(/\s/u.test(text[s.start])).toBe(false);
          const before = text.slice(0, s.start);
          expect(/\s$/u.test(before) || scriptEnd.test(before)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('is idempotent: a trimmed sentence splits into itself', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        for (const s of splitSentences(text)) {
          const trimmed = s.text.trim();
          if (trimmed === '') continue;
          expect(splitSentences(trimmed).map((x) => x.text)).toEqual([trimmed]);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('assignTokensToSentences', () => {
  const text = 'Hi there. Bye now.\n\nEnd';
  const sentences = splitSentences(text);

  it('uses the sentence of the first non-whitespace character', () => {
    expect(sentences.map((s) => s.text)).toEqual(['Hi there. ', 'Bye now.\n\n', 'End']);
    // "Hi" | " there" | "." | " Bye" | " now" | "." | "\n\nEnd"
    const tokens: [number, number][] = [[0, 2], [2, 8], [8, 9], [9, 13], [13, 17], [17, 18], [18, 23]];
    expect(assignTokensToSentences(sentences, tokens)).toEqual([0, 0, 0, 1, 1, 1, 2]);
  });

  it('gives a whitespace-only or empty token to the previous token\'s sentence', () => {
    // "Hi there." | " " | "Bye now." | "\n\n" | "" | "End"
    const tokens: [number, number][] = [[0, 9], [9, 10], [10, 18], [18, 20], [20, 20], [20, 23]];
    expect(assignTokensToSentences(sentences, tokens)).toEqual([0, 0, 1, 1, 1, 2]);
  });

  it('gives a leading whitespace-only token to the first sentence', () => {
    const spans = splitSentences('One. Two.');
    expect(assignTokensToSentences(spans, [[4, 5], [5, 9]])).toEqual([0, 1]);
  });

  it('gives the EOS token to the last sentence even with offsets past the end', () => {
    const tokens: [number, number][] = [[0, 2], [2, 9], [999, 1000]];
    expect(assignTokensToSentences(sentences, tokens, 2)).toEqual([0, 0, 2]);
    expect(assignTokensToSentences(sentences, [[0, 2], [23, 23]], 1)).toEqual([0, 2]);
  });

  it('rejects out-of-range offsets naming the token', () => {
    expect(() => assignTokensToSentences(sentences, [[0, 2], [20, 24]])).toThrow(/token 1 .*\[20, 24\]/);
    expect(() => assignTokensToSentences(sentences, [[-1, 2]])).toThrow(/token 0/);
    expect(() => assignTokensToSentences(sentences, [[0, 2], [5, 3]])).toThrow(/token 1/);
    expect(() => assignTokensToSentences(sentences, [[999, 1000]], 1)).toThrow(/token 0/);
  });

  it('rejects tokens when there are no sentences', () => {
    expect(() => assignTokensToSentences([], [[0, 0]])).toThrow(/no sentences/);
    expect(assignTokensToSentences([], [])).toEqual([]);
  });

  it('is non-decreasing and in range for ordered tokens, and follows the first non-space char', () => {
    const textArb = fc
      .array(fc.constantFrom('Dr. ', 'Hi', '. ', 'No', '! ', '\n', ' ', 'e.g. ', 'The ', '3.5', 'A. ', 'x'), {
        minLength: 1,
        maxLength: 30,
      })
      .map((p) => p.join(''));
    fc.assert(
      fc.property(textArb, fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (text, rawCuts, withEos) => {
        const spans = splitSentences(text);
        const cuts = [...new Set(rawCuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const bounds = [0, ...cuts, text.length];
        const tokens: [number, number][] = bounds.slice(1).map((end, k) => [bounds[k], end]);
        if (withEos) tokens.push([text.length, text.length + 1]);
        const result = assignTokensToSentences(spans, tokens, withEos ? tokens.length - 1 : undefined);
        expect(result).toHaveLength(tokens.length);
        result.forEach((idx, k) => {
          expect(idx).toBeGreaterThanOrEqual(0);
          expect(idx).toBeLessThan(spans.length);
          if (k > 0) expect(idx).toBeGreaterThanOrEqual(result[k - 1]);
          const [start, end] = tokens[k];
          const first = text.slice(start, end).search(/\S/u);
          if (first >= 0 && !(withEos && k === tokens.length - 1)) {
            expect(spans[idx].start).toBeLessThanOrEqual(start + first);
            expect(spans[idx].end).toBeGreaterThan(start + first);
          }
        });
        if (withEos) expect(result[result.length - 1]).toBe(spans.length - 1);
      }),
      { numRuns: 1000 },
    );
  });
});
