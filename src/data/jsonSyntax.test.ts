import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURE_MODELS } from '../../scripts/lib/nodeModelSource';
import { Prng } from '../models/prng';
import { jsonSyntaxError } from './jsonSyntax';

const acceptedByJsonParse = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** V8's own offset of the error, where its message gives one. */
const v8Position = (text: string): number | null => {
  try {
    JSON.parse(text);
  } catch (e) {
    const m = /at position (\d+)/.exec((e as Error).message);
    if (m) return Number(m[1]);
    if (/Unexpected end of JSON input/.test((e as Error).message)) return text.length;
  }
  return null;
};

const FIXTURE_JSON = ['tiny-smolvlm', 'tiny-clip', 'tiny-smollm2'].flatMap((model) =>
  readdirSync(join(FIXTURE_MODELS, model))
    .filter((f) => f.endsWith('.json'))
    .map((f) => readFileSync(join(FIXTURE_MODELS, model, f), 'utf8')),
);

describe('jsonSyntaxError', () => {
  it.each([
    ['{"a": 1,', 'a property name in double quotes'],
    ['{"a": "x', expect.stringMatching(/^the rest of a string/)],
    ['[[1]\n\n', "',' or ']'"],
    ['', expect.stringMatching(/^a value/)],
    ['1.', 'a digit after the decimal point'],
    ['1e+', 'a digit of the exponent'],
  ])('%j ends early: the error is at its end', (text, expected) => {
    expect(acceptedByJsonParse(text)).toBe(false);
    expect(jsonSyntaxError(text)).toMatchObject({ offset: text.length, expected, endsEarly: true });
  });

  it.each([
    ['[1,]', 3, 'a value (an object, array, string, number, true, false or null)'],
    ['{"a": 1 "b": 2}', 8, "',' or '}'"],
    ['{"a":1}}', 7, 'the end of the text'],
    ['"tab\there"', 4, expect.stringMatching(/no raw control character/)],
    ['"\\x"', 2, expect.stringMatching(/a valid escape/)],
    ['"\\u12"', 5, 'a hexadecimal digit of a \\u escape'],
    ['{"a" 1}', 5, "':'"],
    ['01', 1, 'the end of the text'],
    ['[-]', 2, 'a digit'],
    ['{1: 2}', 1, 'a property name in double quotes'],
  ])('%j: the error is at offset %i', (text, offset, expected) => {
    expect(acceptedByJsonParse(text)).toBe(false);
    expect(jsonSyntaxError(text)).toMatchObject({ offset, expected, endsEarly: false });
  });

  it('names the line and the column (1-based) of the error', () => {
    expect(jsonSyntaxError('{\n  "a": tru\n}')).toEqual({ offset: 12, line: 2, column: 11, expected: 'the rest of true', endsEarly: false });
    expect(jsonSyntaxError('[[1]\r\n\r\n')).toMatchObject({ offset: 8, line: 3, column: 1 });
    expect(jsonSyntaxError('["\u00e9\u00e9", x]')).toMatchObject({ offset: 7, line: 1, column: 8 }); // characters, not UTF-8 bytes
  });

  it('accepts what JSON.parse accepts: the fixture models’ JSON files, values of every kind, deep nesting', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const texts = [...FIXTURE_JSON, ' 1 ', '-0.5e+3', 'true', 'null', '"\\u00e9\\n"', '{}', '[]', '{"a":[{},[],"",0,false]}', deep];
    for (const text of texts) {
      expect(acceptedByJsonParse(text)).toBe(true);
      expect(jsonSyntaxError(text)).toBeNull();
    }
  });

  it('agrees with JSON.parse on every prefix and on random edits of real files, and with V8 on where the error is', () => {
    const prng = new Prng(7);
    const alphabet = ' \n{}[],:"\\0123456789.-+eEtrufalsn\u00e9\u0001x';
    const texts: string[] = [];
    const small = FIXTURE_JSON.filter((t) => t.length < 4000);
    for (const text of small) for (let n = 0; n < text.length; n++) texts.push(text.slice(0, n));
    for (let i = 0; i < 3000; i++) {
      const text = small[prng.int(small.length)];
      const at = prng.int(text.length);
      const edit = prng.int(3);
      const c = alphabet[prng.int(alphabet.length)];
      texts.push(text.slice(0, at) + (edit === 0 ? '' : c) + text.slice(edit === 2 ? at : at + 1));
    }
    let positioned = 0;
    for (const text of texts) {
      const error = jsonSyntaxError(text);
      expect(error === null, JSON.stringify(text.slice(0, 200))).toBe(acceptedByJsonParse(text));
      const v8 = v8Position(text);
      if (error && v8 !== null) {
        positioned++;
        expect(error.offset, JSON.stringify(text)).toBe(v8);
      }
    }
    expect(positioned).toBeGreaterThan(texts.length / 2);
  });
});
