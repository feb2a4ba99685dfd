/**
 * The Inspect tab's model numbers have one source, the per-token log-probs: each token is mapped to its sentence
 * once, when the pair is scored, and both the book's per-sentence sums and the objective use that mapping.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as aspo from '../../aspo';
import { EMPTY_BOOK, recordScores } from '../../data/sentenceNumbers';
import type { LogprobsRequest, MllmEngine, ResponseLogprobs } from '../../models/engine';
import { computeInspect, type InspectInput } from './compute';
import { scorePair } from './scorePair';

vi.mock('../../aspo', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../aspo')>();
  return { ...actual, assignTokensToSentences: vi.fn(actual.assignTokensToSentences) };
});

const PROMPT = 'Describe the picture.';
const CHOSEN = 'A cat sits. It naps.';
const REJECTED = 'A dog runs.';

/** One token per word (its trailing space included) and an end-of-turn token; log-probs from the token's position. */
function wordLogprobs(text: string, adapters: boolean): ResponseLogprobs {
  const words = [...text.matchAll(/\S+\s*/g)];
  const scale = adapters ? 0.1 : 0.25;
  const tokens = [
    ...words.map((m, k) => ({ id: k, text: m[0], start: m.index!, end: m.index! + m[0].length, logp: -scale * (k + 1) })),
    { id: 99, text: '<end_of_utterance>', start: text.length, end: text.length, logp: -scale * (words.length + 1) },
  ];
  return { inputIds: [], responseStart: 0, tokens, total: tokens.reduce((s, t) => s + t.logp, 0), eosIndex: tokens.length - 1, fullLength: tokens.length, cut: null };
}

const engine: MllmEngine = {
  kind: 'tfjs',
  contextLength: 512,
  label: 'word model',
  logprobs: async (r: LogprobsRequest) => r.responses.map((text) => wordLogprobs(text, r.adapters !== false)),
  generate: () => Promise.reject(new Error('not used')),
  dispose: () => undefined,
};

async function scored() {
  return scorePair({
    engine,
    mllmLabel: 'word model',
    clip: null,
    imageUrl: null,
    prompt: PROMPT,
    chosen: CHOSEN,
    rejected: REJECTED,
    signal: new AbortController().signal,
    onStage: () => undefined,
  });
}

function input(granularity: aspo.Granularity, s: Awaited<ReturnType<typeof scored>> | null): InspectInput {
  return {
    chosen: CHOSEN,
    rejected: REJECTED,
    book: s ? recordScores(EMPTY_BOOK, s.record) : EMPTY_BOOK,
    pair: { prompt: PROMPT, image: null },
    alpha: 0.5,
    beta: 0.1,
    normalization: 'mean',
    perplexitySource: 'policy',
    granularity,
    scored: s?.scored,
  };
}

const mapped = vi.mocked(aspo.assignTokensToSentences);

describe('Inspect scoring', () => {
  beforeEach(() => {
    mapped.mockClear();
  });

  it('maps each response to its sentences once per score, whatever the table recomputes', async () => {
    const s = await scored();
    for (const g of ['sentence', 'token', 'response'] as const) computeInspect(input(g, s));
    expect(mapped).toHaveBeenCalledTimes(2);
  });

  it("shows the sums of the tokens the model gave each sentence, and the objective uses those very tokens", async () => {
    const s = await scored();
    // Chosen: "A ", "cat ", "sits. " | "It ", "naps.", EOS — policy −0.1·k, reference −0.25·k for the k-th token.
    const policy = (ks: number[]) => ks.reduce((a, k) => a - 0.1 * k, 0);
    const ref = (ks: number[]) => ks.reduce((a, k) => a - 0.25 * k, 0);
    const view = computeInspect(input('sentence', s));
    expect(view.chosen.map((r) => r.numbers.tokens)).toEqual([3, 3]);
    expect(view.chosen[0].numbers.policyLogp).toBeCloseTo(policy([1, 2, 3]), 12);
    expect(view.chosen[1].numbers.refLogp).toBeCloseTo(ref([4, 5, 6]), 12);
    expect(view.chosen.map((r) => r.tokens?.map((t) => t.text))).toEqual([['A ', 'cat ', 'sits. '], ['It ', 'naps.', '<end_of_utterance>']]);
    expect(view.chosen.map((r) => r.sources.policyLogp.source)).toEqual(['model', 'model']);
    // R_c − R_r = β Σ(ℓ^θ − ℓ^ref) over each response's tokens.
    const chosenAll = [1, 2, 3, 4, 5, 6];
    const rejectedAll = [1, 2, 3, 4];
    const dpoMargin = 0.1 * (policy(chosenAll) - ref(chosenAll)) - 0.1 * (policy(rejectedAll) - ref(rejectedAll));
    expect(view.result!.dpoMargin).toBeCloseTo(dpoMargin, 12);
    expect(view.objectiveInput!.chosen.policyLogps).toEqual(s.scored.chosen.tokens.map((t) => t.policy));
    expect(view.objectiveInput!.chosen.tokenSentence).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('gives the same result at sentence granularity from the book alone, where the tokens no longer fit', async () => {
    const s = await scored();
    const withTokens = computeInspect(input('sentence', s)).result!;
    const fromBook = computeInspect({ ...input('sentence', s), scored: undefined }).result!;
    expect(fromBook.loss).toBeCloseTo(withTokens.loss, 12);
    expect(fromBook.margin).toBeCloseTo(withTokens.margin, 12);
    expect(fromBook.sentenceRewardsChosen).toHaveLength(2);
  });
});
