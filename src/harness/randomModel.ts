/**
 * The random model with SmolVLM-256M-Instruct's exact dimensions that the benchmarks build in the page
 * (`randomWeights(parseModelConfig(SMOLVLM_256M_INSTRUCT), seed)`): the real model's cost without its download.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { parseModelConfig, type Idefics3Config } from '../models/config';
import { SMOLVLM_256M_INSTRUCT } from '../models/knownConfigs';
import type { ChatFormat } from '../models/teacherForcing';
import { TfjsEngine } from '../models/tfjs/engine';
import type { LoraOptions } from '../models/tfjs/lora';
import { loadIdefics3Model, randomWeights } from '../models/tfjs/weights';

/**
 * With `text.tokenizer` null the engine takes token ids only (`responseLogprobs`); `text.format` is the chat format
 * its prompts would use.
 */
export function randomSmolvlm256m(seed: number, text: { tokenizer: PreTrainedTokenizer | null; format: ChatFormat }, lora?: LoraOptions): TfjsEngine {
  const config = parseModelConfig(SMOLVLM_256M_INSTRUCT) as Idefics3Config;
  // Built and dropped in one expression, so the float32 copy of the weights is garbage as soon as they are on the backend.
  const built = loadIdefics3Model(config, randomWeights(config, seed), lora);
  return new TfjsEngine(config, built, text.tokenizer as PreTrainedTokenizer, null, text.format, 'random SmolVLM-256M-shaped model');
}
