/**
 * The way tokenizeResponse found token offsets before it was made linear: decode the growing prefix up to each
 * token. Quadratic in the response's length; kept only as the independent reference of the tests and the
 * baseline of bench:score.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';

/**
 * Where token k of `ids` ends in the response text: the length of the decoded prefix up to it, less the template's
 * text before the response; a prefix ending inside a multi-byte character (U+FFFD) ends where the last whole
 * character did.
 */
export function prefixDecodedEnd(tokenizer: PreTrainedTokenizer, ids: number[], k: number, responseOffset: number, responseLength: number): number {
  for (let j = k; j >= 0; j--) {
    const decoded = tokenizer.decode(ids.slice(0, j + 1), { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    if (!decoded.endsWith('\uFFFD')) return Math.min(responseLength, Math.max(0, decoded.length - responseOffset));
  }
  return 0;
}

/** A long answer in several scripts: accents, CJK and emoji become byte tokens, so characters straddle tokens. */
export function longResponse(sentences: number): string {
  const parts = ['The red bus waits near the café.', ' 日本の猫が寝ている。', ' A dog 🐕 runs — fast!', ' Zwei Bäume, drei Vögel?', ' 3.5 km away.'];
  return Array.from({ length: sentences }, (_, i) => parts[i % parts.length]).join('');
}
