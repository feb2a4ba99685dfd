import { RawImage } from '@huggingface/transformers';
import { splitSentences } from '../../aspo';
import type { SentenceNumbers } from '../../data/examples';
import type { ClipScorer } from '../../models/clip';
import type { MllmEngine, ResponseLogprobs } from '../../models/engine';
import { numbersFromTokens, type ScoredResponse } from '../calculator/compute';

export interface PairScoresForUi {
  chosenNumbers: SentenceNumbers[];
  rejectedNumbers: SentenceNumbers[];
  scored: { chosen: ScoredResponse; rejected: ScoredResponse };
  truncated: { chosen: boolean[]; rejected: boolean[] };
}

export interface ScoreRequest {
  engine: MllmEngine;
  clip: ClipScorer | null;
  imageUrl: string | null;
  prompt: string;
  chosen: string;
  rejected: string;
  /** Similarities to keep when there is no image or no CLIP model. */
  fallbackSimilarity: { chosen: number[]; rejected: number[] };
  signal: AbortSignal;
  onStage: (stage: string, done: number, total: number) => void;
}

function throwIfAborted(signal: AbortSignal) {
  if (signal.aborted) throw new DOMException('Scoring was cancelled.', 'AbortError');
}

function merge(text: string, policy: ResponseLogprobs, reference: ResponseLogprobs): ScoredResponse {
  return {
    text,
    eosIndex: policy.eosIndex,
    tokens: policy.tokens.map((t, k) => ({ id: t.id, text: t.text, start: t.start, end: t.end, policy: t.logp, ref: reference.tokens[k].logp })),
  };
}

/**
 * S_i from CLIP and per-token log-probs from the engine, for both responses, turned into the calculator's
 * per-sentence numbers. Policy and reference differ only once adapters are trained; an ONNX engine has none.
 */
export async function scorePair(req: ScoreRequest): Promise<PairScoresForUi> {
  const stages = req.clip && req.imageUrl ? 3 : 2;
  const image = req.imageUrl ? await RawImage.fromURL(req.imageUrl) : undefined;
  const spans = { chosen: splitSentences(req.chosen), rejected: splitSentences(req.rejected) };
  let similarity = req.fallbackSimilarity;
  let truncated = { chosen: spans.chosen.map(() => false), rejected: spans.rejected.map(() => false) };
  if (req.clip && image) {
    req.onStage('CLIP: sentence–image similarity', 0, stages);
    const [c, r] = [
      await req.clip.similarity(image, spans.chosen.map((s) => s.text.trim())),
      await req.clip.similarity(image, spans.rejected.map((s) => s.text.trim())),
    ];
    similarity = { chosen: c.map((s) => s.similarity), rejected: r.map((s) => s.similarity) };
    truncated = { chosen: c.map((s) => s.truncated), rejected: r.map((s) => s.truncated) };
    throwIfAborted(req.signal);
  }
  req.onStage('Model: log-probs with adapters', stages - 2, stages);
  const responses = [req.chosen, req.rejected];
  const policy = await req.engine.logprobs({ image, prompt: req.prompt, responses, adapters: true });
  throwIfAborted(req.signal);
  req.onStage('Model: reference log-probs', stages - 1, stages);
  const reference = req.engine.kind === 'tfjs' ? await req.engine.logprobs({ image, prompt: req.prompt, responses, adapters: false }) : policy;
  throwIfAborted(req.signal);
  const scored = { chosen: merge(req.chosen, policy[0], reference[0]), rejected: merge(req.rejected, policy[1], reference[1]) };
  return {
    chosenNumbers: numbersFromTokens(spans.chosen, scored.chosen, similarity.chosen),
    rejectedNumbers: numbersFromTokens(spans.rejected, scored.rejected, similarity.rejected),
    scored,
    truncated,
  };
}
