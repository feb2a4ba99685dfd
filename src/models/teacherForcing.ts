import type { PreTrainedTokenizer } from '@huggingface/transformers';

/** How a model family writes a conversation: SmolVLM templates take content parts, SmolLM2's take plain strings. */
export interface ChatFormat {
  contentAsParts: boolean;
  /** The token that closes the assistant's turn; it counts as a response token (method-spec, Notation). */
  endOfTurnId: number;
}

export interface ResponseTokens {
  /** Ids from the first response token up to and including the end-of-turn token. */
  ids: number[];
  /** Character offsets [start, end) of each token in the response text; the end-of-turn token gets [len, len]. */
  offsets: [number, number][];
  texts: string[];
  /** Index (within ids) of the end-of-turn token: always the last. */
  eosIndex: number;
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

/**
 * Tokenizes the answer part on its own and appends it to the prompt's ids, as TRL's DPOTrainer does, so that
 * chosen and rejected share the exact prompt ids (and the image tokens the processor expanded in it).
 * Offsets come from decoding growing prefixes, which works for any tokenizer, byte-level or not.
 */
export function tokenizeResponse(
  tokenizer: PreTrainedTokenizer,
  prompt: string,
  response: string,
  withImage: boolean,
  format: ChatFormat,
): ResponseTokens {
  const { tail, responseOffset } = responseTail(tokenizer, prompt, response, withImage, format);
  const tailIds = tokenizer.encode(tail, { add_special_tokens: false });
  const eosIndex = tailIds.indexOf(format.endOfTurnId);
  if (eosIndex < 0) throw new Error(`The chat template closes the answer without the end-of-turn token (id ${format.endOfTurnId}).`);
  const ids = tailIds.slice(0, eosIndex + 1);
  const decodeOpts = { skip_special_tokens: false, clean_up_tokenization_spaces: false };
  const offsets: [number, number][] = [];
  let previousEnd = 0;
  for (let k = 0; k < eosIndex; k++) {
    const decoded = tokenizer.decode(ids.slice(0, k + 1), decodeOpts);
    // A token holding only part of a multi-byte character decodes to U+FFFD: it ends where the last whole character did.
    const whole = decoded.endsWith('\uFFFD') ? previousEnd : decoded.length - responseOffset;
    const end = Math.min(response.length, Math.max(previousEnd, whole));
    offsets.push([previousEnd, end]);
    previousEnd = end;
  }
  offsets.push([response.length, response.length]);
  const texts = ids.map((id) => tokenizer.decode([id], decodeOpts));
  return { ids, offsets, texts, eosIndex };
}
