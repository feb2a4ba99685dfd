import { RawImage } from '@huggingface/transformers';
import type { MllmEngine } from '../../models/engine';

/** Room for the longest correct description (two groups: five sentences, a token a word) and its full stops. */
export const GENERATE_MAX_NEW_TOKENS = 64;

/** The loaded model's greedy answer to the pair's prompt about its image, as the Inspect tab fills a response with it. */
export async function generateResponse(engine: MllmEngine, imageUrl: string | null, prompt: string, signal: AbortSignal): Promise<string> {
  const image = imageUrl ? await RawImage.fromURL(imageUrl) : undefined;
  const result = await engine.generate({ image, prompt, maxNewTokens: GENERATE_MAX_NEW_TOKENS, greedy: true, signal });
  if (result.stop === 'aborted') throw new DOMException('Generation was cancelled.', 'AbortError');
  return result.text.trim();
}
