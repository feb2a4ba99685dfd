import { RawImage } from '@huggingface/transformers';
import { assignTokensToSentences, splitSentences, type SentenceSpan } from '../../aspo';
import { imageKey, type LogpNumbers, type ScoreRecord, type ScoredResponse, type SideScores } from '../../data/sentenceNumbers';
import { clipCutNotice, type ClipScorer } from '../../models/clip';
import { cutNotice, type MllmEngine, type ResponseLogprobs } from '../../models/engine';

export interface PairScoresForUi {
  record: ScoreRecord;
  scored: { chosen: ScoredResponse; rejected: ScoredResponse };
  /** What the models' windows cut from the pair, in words for the user; empty when nothing was cut. */
  notices: string[];
}

export interface ScoreRequest {
  engine: MllmEngine;
  /** The models in words, kept with their numbers. */
  mllmLabel: string;
  clip: { scorer: ClipScorer; label: string } | null;
  imageUrl: string | null;
  prompt: string;
  chosen: string;
  rejected: string;
  signal: AbortSignal;
  onStage: (stage: string, done: number, total: number) => void;
}

function throwIfAborted(signal: AbortSignal) {
  if (signal.aborted) throw new DOMException('Scoring was cancelled.', 'AbortError');
}

/** Both passes' tokens of one response, each mapped to its sentence once, here, for the book and the objective alike. */
function merge(text: string, spans: SentenceSpan[], pair: { prompt: string; image: string | null }, policy: ResponseLogprobs, reference: ResponseLogprobs): ScoredResponse {
  const sentence = assignTokensToSentences(spans, policy.tokens.map((t) => [t.start, t.end]), policy.eosIndex);
  return {
    text,
    prompt: pair.prompt,
    image: pair.image,
    eosIndex: policy.eosIndex,
    tokens: policy.tokens.map((t, k) => ({ id: t.id, text: t.text, start: t.start, end: t.end, policy: t.logp, ref: reference.tokens[k].logp, sentence: sentence[k] })),
  };
}

/**
 * Log-prob sums and token counts per sentence from a model's tokens, so the table shows what the model said;
 * null for a sentence the model's window cut off, which got no token and so no number from the model.
 */
function sentenceLogps(scored: ScoredResponse, sentenceCount: number): (LogpNumbers | null)[] {
  const sums: (LogpNumbers | null)[] = new Array(sentenceCount).fill(null);
  for (const t of scored.tokens) {
    const s = (sums[t.sentence] ??= { policyLogp: 0, refLogp: 0, tokens: 0 });
    s.policyLogp += t.policy;
    s.refLogp += t.ref;
    s.tokens += 1;
  }
  return sums;
}

/** The model's cut of one response, and the sentences it left without a single token. */
function modelCutNotice(which: string, r: ResponseLogprobs, spans: SentenceSpan[]): string | null {
  const notice = cutNotice(`${which} response`, r);
  if (notice === null) return null;
  const end = r.tokens.length > 0 ? r.tokens[r.tokens.length - 1].end : 0;
  const first = spans.findIndex((s) => s.start >= end);
  if (first < 0) return notice;
  const range = first === spans.length - 1 ? `sentence ${spans.length} has` : `sentences ${first + 1}–${spans.length} have`;
  return `${notice} ${range[0].toUpperCase()}${range.slice(1)} no log-probs from the model.`;
}

/**
 * S_i from CLIP and per-token log-probs from the engine, for both responses, turned into the Inspect tab's
 * per-sentence numbers. Policy and reference differ only once adapters are trained; an ONNX engine has none.
 */
export async function scorePair(req: ScoreRequest): Promise<PairScoresForUi> {
  const image = req.imageUrl ? await RawImage.fromURL(req.imageUrl) : undefined;
  return scoreDecodedPair({ ...req, image, imageKey: imageKey(req.imageUrl) });
}

/** A pair whose image is already decoded, with the key its numbers are kept under (null, and no image, for none). */
export type DecodedScoreRequest = Omit<ScoreRequest, 'imageUrl'> & { image: RawImage | undefined; imageKey: string | null };

/**
 * `scorePair` from the decoded image: the sandbox evaluation (src/state/sandbox) renders its scenes in memory and
 * scores each description exactly as the tab scores a response.
 */
export async function scoreDecodedPair(req: DecodedScoreRequest): Promise<PairScoresForUi> {
  const { image } = req;
  const stages = req.clip && image ? 3 : 2;
  const pair = { prompt: req.prompt, image: req.imageKey };
  const spans = { chosen: splitSentences(req.chosen), rejected: splitSentences(req.rejected) };
  let similarity: { chosen: SideScores['similarity']; rejected: SideScores['similarity'] } = { chosen: undefined, rejected: undefined };
  const notices: string[] = [];
  if (req.clip && image) {
    req.onStage('CLIP: sentence–image similarity', 0, stages);
    const clip = req.clip.scorer;
    const score = async (which: 'chosen' | 'rejected') => {
      const results = await clip.similarity(image, spans[which].map((s) => s.text.trim()));
      const notice = clipCutNotice(`${which} response`, results, clip.contextLength);
      if (notice) notices.push(notice);
      return results.map((s) => ({ value: s.similarity, truncated: s.truncated }));
    };
    similarity = { chosen: await score('chosen'), rejected: await score('rejected') };
    throwIfAborted(req.signal);
  }
  req.onStage('Model: log-probs with adapters', stages - 2, stages);
  const responses = [req.chosen, req.rejected];
  const policy = await req.engine.logprobs({ image, prompt: req.prompt, responses, adapters: true });
  throwIfAborted(req.signal);
  for (const [i, which] of (['chosen', 'rejected'] as const).entries()) {
    const notice = modelCutNotice(which, policy[i], spans[which]);
    if (notice) notices.push(notice);
  }
  req.onStage('Model: reference log-probs', stages - 1, stages);
  const reference = req.engine.kind === 'tfjs' ? await req.engine.logprobs({ image, prompt: req.prompt, responses, adapters: false }) : policy;
  throwIfAborted(req.signal);
  const scored = {
    chosen: merge(req.chosen, spans.chosen, pair, policy[0], reference[0]),
    rejected: merge(req.rejected, spans.rejected, pair, policy[1], reference[1]),
  };
  const side = (which: 'chosen' | 'rejected'): SideScores => ({
    response: req[which],
    spans: spans[which],
    logps: sentenceLogps(scored[which], spans[which].length),
    similarity: similarity[which],
  });
  return {
    record: { pair, mllm: req.mllmLabel, clip: similarity.chosen ? req.clip?.label : undefined, chosen: side('chosen'), rejected: side('rejected') },
    scored,
    notices,
  };
}
