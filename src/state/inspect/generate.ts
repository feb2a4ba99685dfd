import { RawImage } from '@huggingface/transformers';
import type { MllmEngine } from '../../models/engine';
import { DEFAULT_DESCRIPTION_TOKENS } from '../sandbox/evaluate';

/** The loaded model's greedy answer to the pair's prompt about its image, as the Inspect tab fills a response with it. */
export async function generateResponse(engine: MllmEngine, imageUrl: string | null, prompt: string, signal: AbortSignal): Promise<string> {
  const image = imageUrl ? await RawImage.fromURL(imageUrl) : undefined;
  const result = await engine.generate({ image, prompt, maxNewTokens: DEFAULT_DESCRIPTION_TOKENS, greedy: true, signal });
  if (result.stop === 'aborted') throw new DOMException('Generation was cancelled.', 'AbortError');
  return result.text.trim();
}
