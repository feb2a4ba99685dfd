import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadTokenizer } from './transformersEnv';
import { promptText, tokenizeResponse, type ChatFormat } from './teacherForcing';
import { fixtureSource } from '../../scripts/lib/nodeModelSource';

const vlm = await loadTokenizer(fixtureSource('tiny-smolvlm'));
const llm = await loadTokenizer(fixtureSource('tiny-smollm2'));
const VLM: ChatFormat = { contentAsParts: true, endOfTurnId: 698 };
const LLM: ChatFormat = { contentAsParts: false, endOfTurnId: 2 };

describe('tokenizeResponse', () => {
  it('renders the SmolVLM turn and ends the response on <end_of_utterance>', () => {
    expect(promptText(vlm, 'What is this?', true, VLM)).toBe('<|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:');
    const r = tokenizeResponse(vlm, 'What is this?', 'A red circle.', true, VLM);
    expect(r.ids[r.ids.length - 1]).toBe(698);
    expect(r.eosIndex).toBe(r.ids.length - 1);
    expect(r.texts.join('')).toBe(' A red circle.<end_of_utterance>');
    expect(r.offsets[r.eosIndex]).toEqual([13, 13]);
    expect(r.offsets[0][0]).toBe(0);
  });

  it('prompt ids followed by answer ids equal the ids of the whole conversation (no merge across the boundary)', () => {
    for (const [tok, format] of [[vlm, VLM], [llm, LLM]] as const) {
      const prompt = 'Describe the picture, please.';
      const response = 'There are 3 cats. One is asleep!';
      const head = tok.encode(promptText(tok, prompt, false, format), { add_special_tokens: false });
      const r = tokenizeResponse(tok, prompt, response, false, format);
      const full = tok.apply_chat_template(
        [
          { role: 'user', content: format.contentAsParts ? [{ type: 'text', text: prompt }] : prompt },
          { role: 'assistant', content: format.contentAsParts ? [{ type: 'text', text: response }] : response },
        ],
        { tokenize: false },
      ) as string;
      const fullIds = tok.encode(full, { add_special_tokens: false });
      expect([...head, ...r.ids]).toEqual(fullIds.slice(0, head.length + r.ids.length));
    }
  });

  it('offsets tile the response and each token covers the text it decodes to', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9 ,.!?éü\n-]{1,60}$/),
        (response) => {
          const r = tokenizeResponse(llm, 'Hi', response, false, LLM);
          expect(r.offsets[0][0]).toBe(0);
          for (let k = 1; k < r.offsets.length; k++) expect(r.offsets[k][0]).toBe(r.offsets[k - 1][1]);
          expect(r.offsets[r.eosIndex]).toEqual([response.length, response.length]);
          for (let k = 0; k < r.eosIndex; k++) {
            const [s, e] = r.offsets[k];
            const piece = response.slice(s, e);
            // Only the first token may carry template whitespace before the response; none here (SmolLM2 template).
            if (!r.texts[k].includes('\uFFFD')) expect(piece).toBe(r.texts[k]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a multi-byte character split over byte tokens is owned by the token that completes it', () => {
    const r = tokenizeResponse(llm, 'Hi', '日本', false, LLM);
    const covered = r.offsets.slice(0, r.eosIndex).map(([s, e]) => '日本'.slice(s, e));
    expect(covered.join('')).toBe('日本');
    expect(covered.filter((c) => c.length > 0)).toEqual(['日', '本']);
  });
});
