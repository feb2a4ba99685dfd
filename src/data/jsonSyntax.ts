/**
 * Where a text stops being JSON (RFC 8259), for messages about files users give us: `JSON.parse` says only
 * "Unexpected end of JSON input" in V8, quotes the whole text in other errors, and words them differently in each
 * engine. This scanner is asked only after `JSON.parse` refused a text, and names the line and column.
 */

export interface JsonSyntaxError {
  /** UTF-16 offset of the first character that cannot continue the JSON text (the text's length when it ends early) */
  offset: number;
  /** 1-based */
  line: number;
  /** 1-based, in characters */
  column: number;
  /** what would have been valid there, e.g. `',' or '}'`; "the end of the text" for trailing characters */
  expected: string;
  /** whether the text ended before the JSON value was complete (a cut-off file) */
  endsEarly: boolean;
}

const HEX = /[0-9a-fA-F]/;
const STRING_REST = 'the rest of a string (a closing \'"\', a valid escape, no raw control character)';

/** The first syntax error of `text`, or null when it is one JSON value (with whitespace around it). */
export function jsonSyntaxError(text: string): JsonSyntaxError | null {
  let at = 0;
  // Open containers, innermost last; kept on a stack so that deep nesting cannot overflow the call stack.
  const open: ('{' | '[')[] = [];
  const skipSpace = () => {
    while (at < text.length && (text[at] === ' ' || text[at] === '\t' || text[at] === '\n' || text[at] === '\r')) at++;
  };
  const digits = () => {
    const start = at;
    while (at < text.length && text[at] >= '0' && text[at] <= '9') at++;
    return at > start;
  };
  /** Moves past a number, string or literal starting at `at`; else what was expected where `at` stopped. */
  const scalar = (): string | null => {
    const c = text[at];
    if (c === '"') {
      at++;
      for (;;) {
        if (at >= text.length) return STRING_REST;
        const code = text.charCodeAt(at);
        if (code === 0x22) {
          at++;
          return null;
        }
        if (code < 0x20) return STRING_REST;
        at++;
        if (code !== 0x5c) continue;
        if (text[at] === 'u') {
          at++;
          for (let k = 0; k < 4; k++, at++) if (!HEX.test(text[at] ?? '')) return 'a hexadecimal digit of a \\u escape';
        } else if (at < text.length && '"\\/bfnrt'.includes(text[at])) at++;
        else return STRING_REST;
      }
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      if (text[at] === '-') at++;
      if (text[at] === '0') at++;
      else if (!digits()) return 'a digit';
      if (text[at] === '.') {
        at++;
        if (!digits()) return 'a digit after the decimal point';
      }
      if (text[at] === 'e' || text[at] === 'E') {
        at++;
        if (text[at] === '+' || text[at] === '-') at++;
        if (!digits()) return 'a digit of the exponent';
      }
      return null;
    }
    const word = c === 't' ? 'true' : c === 'f' ? 'false' : c === 'n' ? 'null' : null;
    if (word === null) return 'a value (an object, array, string, number, true, false or null)';
    for (const letter of word) {
      if (text[at] !== letter) return `the rest of ${word}`;
      at++;
    }
    return null;
  };
  const fail = (expected: string): JsonSyntaxError => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    return { offset: at, line, column: at - before.lastIndexOf('\n'), expected, endsEarly: at >= text.length };
  };
  /** After `{` or `,` in an object: a property name, then ':'. */
  const property = (): JsonSyntaxError | null => {
    skipSpace();
    if (text[at] !== '"') return fail('a property name in double quotes');
    const broken = scalar();
    if (broken) return fail(broken);
    skipSpace();
    if (text[at] !== ':') return fail("':'");
    at++;
    return null;
  };

  for (;;) {
    // A value.
    skipSpace();
    const c = text[at];
    if (c === '{' || c === '[') {
      at++;
      skipSpace();
      if (text[at] === (c === '{' ? '}' : ']')) at++;
      else {
        open.push(c);
        const problem = c === '{' ? property() : null;
        if (problem) return problem;
        continue;
      }
    } else {
      const broken = scalar();
      if (broken) return fail(broken);
    }
    // After a value: close containers until one continues with ','.
    for (;;) {
      skipSpace();
      const inner = open[open.length - 1];
      if (inner === undefined) return at < text.length ? fail('the end of the text') : null;
      const close = inner === '{' ? '}' : ']';
      if (text[at] === close) {
        at++;
        open.pop();
      } else if (text[at] === ',') {
        at++;
        const problem = inner === '{' ? property() : null;
        if (problem) return problem;
        break;
      } else return fail(`',' or '${close}'`);
    }
  }
}
