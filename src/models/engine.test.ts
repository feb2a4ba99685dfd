import { describe, expect, it } from 'vitest';
import { parseModelConfig } from './config';
import { SMOLLM2_135M, SMOLVLM_256M_INSTRUCT } from './knownConfigs';
import { responseRoom, scoredResponse, sequenceLimit, WINDOW_NAME } from './engine';
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

const MiB = 2 ** 20;

describe('sequenceLimit', () => {
  // SmolVLM-256M's text model: 8192 positions, 9 heads, 49,280 tokens.
  const smolvlm = { maxPositionEmbeddings: 8192, numHeads: 9, vocabSize: 49280 };

  it.each([
    // bytes, batch → tokens (computed by hand: min(⌊√(bytes / (4·batch·heads))⌋, ⌊bytes / (4·batch·vocab)⌋), at most the window)
    [4096 * MiB, 1, 8192, WINDOW_NAME],
    [1024 * MiB, 2, 2723, 'the longest sequence whose logits fit one cpu buffer (1024 MiB, 2 sequence(s) at a time)'],
    [1024 * MiB, 1, 5447, 'the longest sequence whose logits fit one cpu buffer (1024 MiB, 1 sequence(s) at a time)'],
    [4096 * MiB, 2, 7723, 'the longest sequence whose attention scores fit one cpu buffer (4096 MiB, 2 sequence(s) at a time)'],
  ])('%d bytes, batch %d: %d tokens', (bytes, batch, tokens, name) => {
    expect(sequenceLimit(smolvlm, batch, bytes, 'cpu')).toEqual({ tokens, name });
  });

  it('the tiny models are bounded by their window', () => {
    expect(sequenceLimit({ maxPositionEmbeddings: 512, numHeads: 4, vocabSize: 699 }, 2, 1024 * MiB, 'cpu')).toEqual({ tokens: 512, name: WINDOW_NAME });
  });

  it('the known configs parse to the sizes the limit reads', () => {
    expect(parseModelConfig(SMOLVLM_256M_INSTRUCT).text).toMatchObject(smolvlm);
    for (const config of [SMOLVLM_256M_INSTRUCT, SMOLLM2_135M]) {
      const text = parseModelConfig(config).text;
      expect(sequenceLimit(text, 1, 2 ** 40, 'cpu').tokens).toBe(text.maxPositionEmbeddings);
    }
  });
});

describe('responseRoom', () => {
  it('leaves the window less the prompt, and refuses a prompt that fills it, naming the model and the limit', () => {
    expect(responseRoom('tiny', 100, 512, WINDOW_NAME)).toBe(412);
    expect(() => responseRoom('tiny', 512, 512, WINDOW_NAME)).toThrow(
      "tiny: the prompt (with its image) takes 512 tokens, but the model's window (max_position_embeddings in config.json) is 512 tokens, so no response fits. Shorten the prompt.",
    );
  });
});
