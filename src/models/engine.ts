import type { RawImage } from '@huggingface/transformers';
import type { ResponseTokens } from './teacherForcing';

/**
 * What every MLLM engine offers (the TF.js engine here; the ONNX engine shares it): per-token log-probs of
 * responses, teacher-forced through the model's own chat template and image processor, and generation.
 */

export interface TokenLogprob {
  id: number;
  /** The token decoded on its own. */
  text: string;
  /** Character offsets [start, end) in the response text; the end-of-turn token has [len, len]. */
  start: number;
  end: number;
  logp: number;
}

export interface ResponseLogprobs {
  /** The whole sequence fed to the language model (image tokens expanded). */
  inputIds: number[];
  /** Index in inputIds of the first response token. */
  responseStart: number;
  tokens: TokenLogprob[];
  /** Σ logp over the response tokens, the end-of-turn token included. */
  total: number;
  /** Index in tokens of the end-of-turn token (the last); −1 when the response was cut before it. */
  eosIndex: number;
  /** Tokens of the whole response (end-of-turn included): more than `tokens.length` when it was cut. */
  fullLength: number;
  /** Why the response was cut to `tokens.length` tokens (the limit it met, in words), or null. */
  cut: string | null;
}

export interface LogprobsRequest {
  image?: RawImage;
  prompt: string;
  responses: string[];
  /** false computes the reference model (adapters off); default true. */
  adapters?: boolean;
}

export interface GenerateRequest {
  image?: RawImage;
  prompt: string;
  maxNewTokens: number;
  /** Greedy decoding; otherwise sampling with temperature and top-p from a seeded generator. */
  greedy?: boolean;
  temperature?: number;
  topP?: number;
  seed?: number;
  adapters?: boolean;
  /** Called with each new token as it is produced. */
  onToken?: (token: { id: number; text: string }) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  ids: number[];
  text: string;
  /** Why generation stopped. */
  stop: 'eos' | 'length' | 'aborted';
}

export interface MllmEngine {
  readonly kind: 'tfjs' | 'onnx';
  /** Positions the language model reads, prompt and response together (config.json `max_position_embeddings`). */
  readonly contextLength: number;
  /** The model's source, as messages name it (a Hub id, a folder, a bundled model). */
  readonly label: string;
  logprobs(request: LogprobsRequest): Promise<ResponseLogprobs[]>;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  dispose(): void;
}

/**
 * One response's answer, whichever engine computed `logp(k)`, the log-prob of its k-th token. A NaN or infinite
 * log-prob is refused here, naming `model`, so that no engine hands one on: it would turn every sum, weight and
 * loss built on it into NaN (or print as `null` in JSON).
 */
export function scoredResponse(
  model: string,
  inputIds: number[],
  responseStart: number,
  tokens: ResponseTokens,
  logp: (k: number) => number,
): ResponseLogprobs {
  const scored = tokens.ids.map((id, k) => {
    const value = logp(k);
    if (!Number.isFinite(value)) {
      throw new Error(
        `${model} gives a non-finite log-prob (${value}) for token ${k} (${JSON.stringify(tokens.texts[k])}) of the response: ` +
          'its weights hold NaN or Infinity, or overflow on this input. Load the model again from its original files, ' +
          'or check its weights for NaN and Infinity.',
      );
    }
    return { id, text: tokens.texts[k], start: tokens.offsets[k][0], end: tokens.offsets[k][1], logp: value };
  });
  return {
    inputIds,
    responseStart,
    tokens: scored,
    total: scored.reduce((sum, t) => sum + t.logp, 0),
    eosIndex: tokens.eosIndex,
    fullLength: tokens.fullLength,
    cut: null,
  };
}

/** How many tokens (prompt and response together) one forward may hold, and that limit in words. */
export interface SequenceLimit {
  tokens: number;
  name: string;
}

export const WINDOW_NAME = "the model's window (max_position_embeddings in config.json)";

/**
 * The longest sequence a forward over `batch` sequences can take: the model's window, or fewer where its largest
 * activations, float32 — the attention scores [batch, heads, T, T] or the logits [batch, T, vocab] — would not fit
 * in one buffer of `bufferBytes` (`where` names the buffer's runtime).
 */
export function sequenceLimit(
  text: { maxPositionEmbeddings: number; numHeads: number; vocabSize: number },
  batch: number,
  bufferBytes: number,
  where: string,
): SequenceLimit {
  const attention = Math.floor(Math.sqrt(bufferBytes / (4 * batch * text.numHeads)));
  const logits = Math.floor(bufferBytes / (4 * batch * text.vocabSize));
  const fit = Math.min(attention, logits);
  if (fit >= text.maxPositionEmbeddings) return { tokens: text.maxPositionEmbeddings, name: WINDOW_NAME };
  const what = attention <= logits ? 'attention scores' : 'logits';
  return {
    tokens: fit,
    name: `the longest sequence whose ${what} fit one ${where} buffer (${Math.round(bufferBytes / 2 ** 20)} MiB, ${batch} sequence(s) at a time)`,
  };
}

/**
 * The tokens left for a response when the prompt (image tokens included) takes `promptLength` of the `limit`
 * positions that `limitName` allows; throws, naming the model, when the prompt alone fills them, before any run.
 */
export function responseRoom(model: string, promptLength: number, limit: number, limitName: string): number {
  const room = limit - promptLength;
  if (room < 1) {
    throw new Error(
      `${model}: the prompt (with its image) takes ${promptLength} tokens, but ${limitName} is ${limit} tokens, so no response fits. Shorten the prompt.`,
    );
  }
  return room;
}

/** What the cut took from a response, in words for the user (`which` names the response), or null when nothing was cut. */
export function cutNotice(which: string, r: ResponseLogprobs): string | null {
  if (r.cut === null) return null;
  return `${which}: only the first ${r.tokens.length} of its ${r.fullLength} tokens were scored, ${r.fullLength - r.tokens.length} cut (${r.cut}).`;
}
