/**
 * The registry of model families. Adding one: a new file beside these with its {@link MllmFamily} record (and
 * its tests), then its entry here — docs/architecture.md, "Adding a model family", has the steps.
 */
import type { ModelConfig } from '../config';
import { idefics3Family } from './idefics3';
import { llamaFamily } from './llama';
import type { MllmFamily } from './types';

export { clipFamily } from './clip';

export const MLLM_FAMILIES: readonly MllmFamily[] = [idefics3Family, llamaFamily];

/** Every config.json `model_type` an MLLM engine reads, in the registry's order. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = MLLM_FAMILIES.flatMap((f) => f.modelTypes);

/** The family that reads config.json's `model_type`, if any. */
export function familyForModelType(modelType: unknown): MllmFamily | undefined {
  return MLLM_FAMILIES.find((f) => typeof modelType === 'string' && f.modelTypes.includes(modelType));
}

/** The family of a parsed config. */
export function familyOf(config: ModelConfig): MllmFamily {
  const family = MLLM_FAMILIES.find((f) => f.id === config.modelType);
  if (!family) throw new Error(`no model family for modelType "${config.modelType}"`);
  return family;
}
