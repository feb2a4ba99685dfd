/** TF.js engine: Idefics3 / SmolVLM and Llama / SmolLM2 with LoRA. See idefics3.ts for the API. */
export { Idefics3Model, type MultimodalInput, type MultimodalGenerateOptions } from './idefics3';
export { LlamaModel, KVCache, type TextInput, type DecodeOptions, type GenerateOptions, type GenerateResult } from './llama';
export { LoraAdapters, DEFAULT_LORA_TARGETS, type LoraOptions } from './lora';
export { pixelShuffle } from './connector';
export {
  loadIdefics3Model,
  loadLlamaModel,
  randomWeights,
  expectedShapes,
  parameterCount,
  DEFAULT_LORA,
  type WeightMap,
  type NamedTensor,
} from './weights';
