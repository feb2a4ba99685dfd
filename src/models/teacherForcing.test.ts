import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadTokenizer } from './transformersEnv';
import { decodedPrefixLengths, promptText, tokenizeResponse, type ChatFormat } from './teacherForcing';
import { longResponse, prefixDecodedEnd } from './teacherForcing.testutil';
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

describe('tokenizeResponse on long input', () => {
  const response = longResponse(1400);
  const full = tokenizeResponse(vlm, 'Describe the image.', response, true, VLM);

  it('gives every one of ≥ 20,000 tokens the offsets the quadratic prefix decoding gives (sampled)', () => {
    expect(full.ids.length).toBeGreaterThanOrEqual(20_000);
    expect(full.fullLength).toBe(full.ids.length);
    expect(full.offsets[0][0]).toBe(0);
    for (let k = 1; k < full.offsets.length; k++) expect(full.offsets[k][0]).toBe(full.offsets[k - 1][1]);
    expect(full.offsets[full.eosIndex]).toEqual([response.length, response.length]);
    // SmolVLM's template puts one space before the answer: the first token decodes to " The".
    const responseOffset = 1;
    const splits = full.texts.flatMap((t, k) => (t.includes('\uFFFD') ? [k] : []));
    expect(splits.length).toBeGreaterThan(1000);
    const sample = [0, 1, 2, full.eosIndex - 1, ...Array.from({ length: 24 }, (_, i) => Math.floor(((i + 0.5) * full.eosIndex) / 24))];
    // Around characters split over tokens: the tokens before, inside and after a split.
    for (const k of splits.filter((_, i) => i % 400 === 0)) sample.push(k - 1, k, k + 1, k + 2);
    for (const k of new Set(sample)) {
      expect(full.offsets[k][1], `end of token ${k}`).toBe(prefixDecodedEnd(vlm, full.ids, k, responseOffset, response.length));
    }
    // Every character of the text belongs to exactly one token, so sentences can be found from the offsets.
    expect(full.offsets.slice(0, full.eosIndex).map(([s, e]) => response.slice(s, e)).join('')).toBe(response);
  });

  it('decodedPrefixLengths equals the length of each decoded prefix on a SentencePiece-like tail too', () => {
    const ids = llm.encode(longResponse(30), { add_special_tokens: false });
    const lengths = decodedPrefixLengths(llm, ids);
    for (let k = 0; k < ids.length; k += 7) {
      const decoded = llm.decode(ids.slice(0, k + 1), { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      if (!decoded.endsWith('\uFFFD')) expect(lengths[k], `token ${k}`).toBe(decoded.length);
    }
  });

  it('cuts to maxTokens before any per-token work and keeps the untruncated offsets of what it keeps', () => {
    const cut = tokenizeResponse(vlm, 'Describe the image.', response, true, VLM, 300);
    expect(cut.ids).toEqual(full.ids.slice(0, 300));
    expect(cut.offsets).toEqual(full.offsets.slice(0, 300));
    expect(cut.texts).toEqual(full.texts.slice(0, 300));
    expect(cut.eosIndex).toBe(-1);
    expect(cut.fullLength).toBe(full.ids.length);
    const whole = tokenizeResponse(vlm, 'Describe the image.', 'A red circle.', true, VLM);
    expect(tokenizeResponse(vlm, 'Describe the image.', 'A red circle.', true, VLM, whole.ids.length)).toEqual(whole);
  });
});
