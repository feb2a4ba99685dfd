/**
 * Strict UTF-8 for the text files users give us (preference pairs, adapter configs, a model's JSON files): a file
 * saved in another encoding (Latin-1, Windows-1252) is refused with its line, instead of reaching the model as U+FFFD.
 */

/** A file that is not UTF-8: `line` (1-based) and `offset` (bytes from the start) locate its first invalid byte. */
export class Utf8Error extends Error {
  readonly file: string;
  readonly line: number;
  readonly offset: number;
  /** The message after the file's name (where, and the fix), for messages that name the file their own way. */
  readonly detail: string;
  constructor(file: string, line: number, offset: number, byte: number) {
    const detail =
      `line ${line} is not valid UTF-8 (byte 0x${byte.toString(16).padStart(2, '0')} at offset ${offset}); ` +
      'save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and load it again';
    super(`${file}: ${detail}`);
    this.detail = detail;
    this.name = 'Utf8Error';
    this.file = file;
    this.line = line;
    this.offset = offset;
  }
}

/** Whether `bytes` is valid UTF-8 so far: a sequence cut off at the end is not an error in streaming mode. */
function validPrefix(bytes: Uint8Array, end: number, final: boolean): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end), { stream: !final });
    return true;
  } catch {
    return false;
  }
}

/** Where the first invalid sequence starts (the decoder itself is the definition of valid). */
function firstInvalidByte(bytes: Uint8Array): number {
  // The shortest prefix the decoder rejects ends at the byte where it noticed the error; a file that is only
  // cut off inside its last character is noticed at its end.
  let lo = validPrefix(bytes, bytes.length, false) ? bytes.length : 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (validPrefix(bytes, mid + 1, false)) lo = mid + 1;
    else hi = mid;
  }
  // That byte may be the one that broke an earlier lead byte's sequence (Latin-1 "é" then a space or a
  // newline): the error is where that sequence began, the last point before which the text is complete.
  let start = lo;
  while (start > 0 && lo - start < 3 && !validPrefix(bytes, start, true)) start--;
  return start;
}

/** `bytes` decoded as UTF-8 (a leading BOM dropped); throws a {@link Utf8Error} naming `file` and the line otherwise. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidByte(bytes);
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
    throw new Utf8Error(file, line, at, bytes[at]);
  }
}
