import { describe, expect, it } from 'vitest';
import { parsePairsJsonl, toJsonl, type PreferencePair } from './pairs';

describe('preference pairs JSONL', () => {
  const pairs: PreferencePair[] = [
    { prompt: 'Describe the image.', chosen: 'A red circle.', rejected: 'A blue square.', image: 'img/1.png', similarity: { chosen: [0.3] } },
    { prompt: 'Hi "there"\n', chosen: 'Hello. Bye.', rejected: 'No.' },
  ];

  it('round-trips through toJsonl', () => {
    const text = toJsonl(pairs);
    expect(text.split('\n')).toHaveLength(3);
    const parsed = parsePairsJsonl(text, 'pairs.jsonl');
    expect(parsed.errors).toEqual([]);
    expect(parsed.pairs).toEqual(pairs);
    expect(parsed.lines).toEqual([1, 2]);
  });

  it('reports each bad line with its number and field, and keeps the good ones', () => {
    const text = [
      JSON.stringify(pairs[0]),
      '{"prompt": "p", "chosen": "c"',
      '',
      JSON.stringify({ prompt: 'p', chosen: 'c' }),
      JSON.stringify({ prompt: 'p', chosen: 3, rejected: 'r' }),
      JSON.stringify({ prompt: 'p', chosen: 'c', rejected: 'r', image: 5 }),
      JSON.stringify({ prompt: 'p', chosen: 'c', rejected: 'r', similarity: { chosen: [0.1, 'x'] } }),
      '[1, 2]',
      JSON.stringify({ prompt: 'p', chosen: '  ', rejected: 'r' }),
      JSON.stringify(pairs[1]),
    ].join('\r\n');
    const { pairs: good, errors, lines } = parsePairsJsonl(text, 'data.jsonl');
    expect(good).toEqual(pairs);
    expect(lines).toEqual([1, 10]);
    expect(errors.map((e) => e.line)).toEqual([2, 4, 5, 6, 7, 8, 9]);
    expect(errors[0].message).toMatch(/^data\.jsonl:2: not valid JSON/);
    expect(errors[1].message).toContain('field "rejected" is missing');
    expect(errors[2].message).toContain('field "chosen" must be a string, got a number');
    expect(errors[3].message).toContain('field "image"');
    expect(errors[4].message).toContain('similarity.chosen[1]');
    expect(errors[5].message).toContain('got an array');
    expect(errors[6].message).toContain('field "chosen" is empty');
  });
});
