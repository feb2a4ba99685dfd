import { describe, expect, it } from 'vitest';
import { scoredResponse } from './engine';
import type { ResponseTokens } from './teacherForcing';

const tokens = {
  ids: [11, 12, 2],
  offsets: [
    [0, 3],
    [3, 4],
    [4, 4],
  ],
  texts: ['Red', '.', '<end_of_utterance>'],
  eosIndex: 2,
} as ResponseTokens;

describe('scoredResponse (both engines build their answers with it)', () => {
  it('sums finite log-probs', () => {
    const logps = [-1.5, -0.25, -2];
    const r = scoredResponse('folder tiny', [1, 11, 12, 2], 1, tokens, (k) => logps[k]);
    expect(r.tokens.map((t) => [t.id, t.text, t.start, t.end, t.logp])).toEqual([
      [11, 'Red', 0, 3, -1.5],
      [12, '.', 3, 4, -0.25],
      [2, '<end_of_utterance>', 4, 4, -2],
    ]);
    expect(r.total).toBe(-3.75);
  });

  it.each([NaN, -Infinity, Infinity])('refuses a log-prob of %s, naming the model and the token', (bad) => {
    const logps = [-1.5, bad, -2];
    expect(() => scoredResponse('folder nan-model', [1, 11, 12, 2], 1, tokens, (k) => logps[k])).toThrow(
      `folder nan-model gives a non-finite log-prob (${bad}) for token 1 (".") of the response: ` +
        'its weights hold NaN or Infinity, or overflow on this input. Load the model again from its original files, or check its weights for NaN and Infinity.',
    );
  });
});
