import { describe, expect, it } from 'vitest';
import { decodeUtf8, Utf8Error } from './utf8';

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const utf8 = (text: string) => new TextEncoder().encode(text);

function thrown(bytes: Uint8Array, file = 'pairs.jsonl'): Utf8Error {
  try {
    decodeUtf8(bytes, file);
  } catch (e) {
    expect(e).toBeInstanceOf(Utf8Error);
    return e as Utf8Error;
  }
  throw new Error('decodeUtf8 accepted invalid UTF-8');
}

/** Start of the first ill-formed sequence, written from the Unicode standard's Table 3-7, independently of TextDecoder. */
function referenceFirstInvalid(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c <= 0x7f) need = 0;
    else if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined) return i;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

describe('decodeUtf8', () => {
  it('decodes valid UTF-8 exactly, a leading BOM dropped', () => {
    const text = '{"prompt":"Was ist das?","chosen":"Ein Bus — 🚌.","rejected":"日本語。"}\n';
    expect(decodeUtf8(utf8(text), 'ok.jsonl')).toBe(text);
    expect(decodeUtf8(Uint8Array.from([0xef, 0xbb, 0xbf, ...utf8('x')]), 'bom.jsonl')).toBe('x');
    expect(decodeUtf8(new Uint8Array(0), 'empty.jsonl')).toBe('');
  });

  it('names the file and the line of a Latin-1 "é", also when a newline follows it', () => {
    const lines = ['{"prompt":"a"}', '{"prompt":"b"}', '{"prompt":"caf\u00e9"}', '{"prompt":"d"}'];
    const err = thrown(latin1(lines.join('\n')), 'data/pairs.jsonl');
    expect(err.line).toBe(3);
    expect(err.offset).toBe(lines[0].length + lines[1].length + 2 + '{"prompt":"caf'.length);
    expect(err.message).toBe(
      `data/pairs.jsonl: line 3 is not valid UTF-8 (byte 0xe9 at offset ${err.offset}); save the file as UTF-8 (e.g. \`iconv -f latin1 -t utf-8\`) and load it again`,
    );
    expect(thrown(latin1('ok\nend \u00e9\nnext')).line).toBe(2);
    expect(thrown(latin1('ok\nend \u00e9')).line).toBe(2);
  });

  it.each([
    ['a lone continuation byte', [0x61, 0x80, 0x62], 1],
    ['an invalid lead byte', [0x61, 0x0a, 0xff], 2],
    ['an overlong "/"', [0xc0, 0xaf], 0],
    ['an overlong 3-byte form', [0x61, 0xe0, 0x80, 0xaf], 1],
    ['a UTF-16 surrogate', [0x61, 0x62, 0xed, 0xa0, 0x80], 2],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a sequence cut off at the end of the file', [0x61, 0xf0, 0x9f, 0x9a], 1],
  ])('finds %s', (_, bytes, offset) => {
    expect(thrown(Uint8Array.from(bytes)).offset).toBe(offset);
  });

  it('agrees with an independent validator on random bytes', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    let invalid = 0;
    for (let n = 0; n < 400; n++) {
      // Mostly ASCII and well-formed multibyte characters, with a random byte now and then.
      const parts: number[] = [];
      const len = 1 + (rand() % 40);
      for (let i = 0; i < len; i++) {
        const r = rand();
        if (r < 200) parts.push(...utf8(String.fromCodePoint(r < 150 ? 0x20 + (r % 90) : r < 190 ? 0xe0 + r : 0x1f600 + r)));
        else parts.push(rand());
      }
      const bytes = Uint8Array.from(parts);
      const expected = referenceFirstInvalid(bytes);
      if (expected < 0) {
        expect(decodeUtf8(bytes, 'r.txt')).toBe(new TextDecoder().decode(bytes));
      } else {
        invalid++;
        const err = thrown(bytes, 'r.txt');
        expect(err.offset, `bytes ${Array.from(bytes, (b) => b.toString(16)).join(' ')}`).toBe(expected);
        expect(err.line).toBe(1 + bytes.subarray(0, expected).filter((b) => b === 0x0a).length);
      }
    }
    expect(invalid).toBeGreaterThan(100);
  });
});
