import type { PreTrainedTokenizer } from '@huggingface/transformers';

/** How a model family writes a conversation: SmolVLM templates take content parts, SmolLM2's take plain strings. */
export interface ChatFormat {
  contentAsParts: boolean;
  /** The token that closes the assistant's turn; it counts as a response token (method-spec, Notation). */
  endOfTurnId: number;
}

export interface ResponseTokens {
  /** Ids from the first response token up to and including the end-of-turn token (fewer when `cut` > 0). */
  ids: number[];
  /** Character offsets [start, end) of each token in the response text; the end-of-turn token gets [len, len]. */
  offsets: [number, number][];
  texts: string[];
  /** Index (within ids) of the end-of-turn token: the last; −1 when the truncation cut it off. */
  eosIndex: number;
  /** Tokens of the response (end-of-turn included) before the truncation to `maxTokens`. */
  fullLength: number;
}

type Message = { role: string; content: string | { type: string; text?: string }[] };

function userMessage(prompt: string, withImage: boolean, format: ChatFormat): Message {
  if (!format.contentAsParts) return { role: 'user', content: prompt };
  return { role: 'user', content: [...(withImage ? [{ type: 'image' }] : []), { type: 'text', text: prompt }] };
}

function assistantMessage(response: string, format: ChatFormat): Message {
  return { role: 'assistant', content: format.contentAsParts ? [{ type: 'text', text: response }] : response };
}

/** The templated prompt up to the point where the assistant starts answering (the generation prompt). */
export function promptText(tokenizer: PreTrainedTokenizer, prompt: string, withImage: boolean, format: ChatFormat): string {
  return tokenizer.apply_chat_template([userMessage(prompt, withImage, format)], {
    tokenize: false,
    add_generation_prompt: true,
  }) as string;
}

/**
 * The text the template adds after the generation prompt for this response (e.g. " answer<end_of_utterance>\n")
 * and where the response starts in it.
 */
export function responseTail(
  tokenizer: PreTrainedTokenizer,
  prompt: string,
  response: string,
  withImage: boolean,
  format: ChatFormat,
): { tail: string; responseOffset: number } {
  const head = promptText(tokenizer, prompt, withImage, format);
  const full = tokenizer.apply_chat_template([userMessage(prompt, withImage, format), assistantMessage(response, format)], {
    tokenize: false,
  }) as string;
  if (!full.startsWith(head)) {
    throw new Error('The chat template does not render the conversation as the generation prompt followed by the answer.');
  }
  const tail = full.slice(head.length);
  const responseOffset = tail.indexOf(response);
  if (responseOffset < 0) throw new Error('The chat template changed the response text; cannot locate its tokens.');
  return { tail, responseOffset };
}

const DECODE_OPTIONS = { skip_special_tokens: false, clean_up_tokenization_spaces: false };

/**
 * For each token, the length of the text the tokens up to it decode to, i.e. what
 * `decode(ids.slice(0, k + 1)).length` gives, in linear time. A token holding only part of a multi-byte character
 * decodes to a trailing U+FFFD and adds nothing; the token that completes the character adds it. Each step decodes a
 * short window that starts at the last token already accounted for, so decoders that look at their neighbours (a
 * leading-space strip, byte fallback) see the same context as in the whole prefix.
 */
export function decodedPrefixLengths(tokenizer: PreTrainedTokenizer, ids: number[]): number[] {
  const lengths: number[] = [];
  const decode = (from: number, to: number) => (to > from ? tokenizer.decode(ids.slice(from, to), DECODE_OPTIONS) : '');
  let contextStart = 0;
  let pendingStart = 0;
  let total = 0;
  let contextLength = 0;
  for (let k = 0; k < ids.length; k++) {
    const window = decode(contextStart, k + 1);
    // A UTF-8 character spans at most 4 bytes, so 4 pending tokens still ending in U+FFFD hold a real U+FFFD.
    if (window.length > contextLength && (!window.endsWith('\uFFFD') || k + 1 - pendingStart >= 4)) {
      total += window.length - contextLength;
      contextStart = pendingStart;
      pendingStart = k + 1;
      contextLength = decode(contextStart, pendingStart).length;
    }
    lengths.push(total);
  }
  return lengths;
}

/**
 * Tokenizes the answer part on its own and appends it to the prompt's ids, as TRL's DPOTrainer does, so that
 * chosen and rejected share the exact prompt ids (and the image tokens the processor expanded in it).
 * Keeps at most `maxTokens` tokens (the room the model's window leaves after the prompt), cut before any
 * per-token work so that a response of any length costs time in proportion to what is kept.
 */
export function tokenizeResponse(
  tokenizer: PreTrainedTokenizer,
  prompt: string,
  response: string,
  withImage: boolean,
  format: ChatFormat,
  maxTokens = Infinity,
): ResponseTokens {
  const { tail, responseOffset } = responseTail(tokenizer, prompt, response, withImage, format);
  const tailIds = tokenizer.encode(tail, { add_special_tokens: false });
  const fullEos = tailIds.indexOf(format.endOfTurnId);
  if (fullEos < 0) throw new Error(`The chat template closes the answer without the end-of-turn token (id ${format.endOfTurnId}).`);
  const fullLength = fullEos + 1;
  const ids = tailIds.slice(0, Math.min(fullLength, Math.max(0, maxTokens)));
  const eosIndex = ids.length === fullLength ? fullEos : -1;
  const textIds = eosIndex < 0 ? ids : ids.slice(0, eosIndex);
  const offsets: [number, number][] = [];
  let previousEnd = 0;
  for (const decoded of decodedPrefixLengths(tokenizer, textIds)) {
    const end = Math.min(response.length, Math.max(previousEnd, decoded - responseOffset));
    offsets.push([previousEnd, end]);
    previousEnd = end;
  }
  if (eosIndex >= 0) offsets.push([response.length, response.length]);
  const texts = ids.map((id) => tokenizer.decode([id], DECODE_OPTIONS));
  return { ids, offsets, texts, eosIndex, fullLength };
}
