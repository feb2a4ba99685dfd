/**
 * Typed model configurations, parsed from a Hugging Face `config.json` object.
 *
 * Two families are supported:
 *  - `idefics3` / `smolvlm` (SmolVLM): SigLIP vision tower + pixel-shuffle connector + Llama decoder;
 *  - `llama` (SmolLM2): the decoder alone.
 *
 * Missing optional fields take the defaults of the Hugging Face config classes
 * (`Idefics3Config`, `Idefics3VisionConfig`, `SmolVLMConfig`, `SmolVLMVisionConfig`, `LlamaConfig`):
 *
 * | field                        | default                                 |
 * |------------------------------|-----------------------------------------|
 * | text `num_key_value_heads`   | `num_attention_heads`                   |
 * | text `head_dim`              | `hidden_size / num_attention_heads`     |
 * | text `rms_norm_eps`          | 1e-6 (`LlamaConfig`)                    |
 * | text `rope_theta`            | 10000                                   |
 * | text `max_position_embeddings` | 2048                                  |
 * | text `tie_word_embeddings`   | false (for idefics3: the top-level value, whose default is false) |
 * | vision `num_channels`        | 3                                       |
 * | vision `image_size`          | 224                                     |
 * | vision `patch_size`          | 32                                      |
 * | vision `layer_norm_eps`      | 1e-6                                    |
 * | vision `intermediate_size`   | 3072                                    |
 * | vision `num_hidden_layers`   | 12                                      |
 * | `scale_factor`               | 2                                       |
 * | `image_token_id`             | 128257                                  |
 *
 * The sizes that fix the shape of every weight have no safe default for a
 * checkpoint we load, so they are required: text `hidden_size`,
 * `intermediate_size`, `num_hidden_layers`, `num_attention_heads`, `vocab_size`;
 * vision `hidden_size`, `num_attention_heads`; and for idefics3 the
 * `text_config` and `vision_config` objects themselves. A missing required
 * field throws an Error naming it. Each family parses its own config (src/models/families/); the field
 * readers are in families/fields.ts.
 */
import { familyForModelType, SUPPORTED_MODEL_TYPES } from './families';
import { isObject } from './families/fields';

export interface TextConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
}

export interface VisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  numChannels: number;
}

export interface Idefics3Config {
  modelType: 'idefics3';
  vision: VisionConfig;
  text: TextConfig;
  scaleFactor: number;
  imageTokenId: number;
}

export interface LlamaConfig {
  modelType: 'llama';
  text: TextConfig;
}

export type ModelConfig = Idefics3Config | LlamaConfig;

/** Parse a Hugging Face `config.json` object (already JSON.parse'd) into a typed config. */
export function parseModelConfig(json: unknown): ModelConfig {
  if (!isObject(json)) throw new Error('config.json: expected a JSON object');
  const modelType = json.model_type;
  if (modelType === undefined) {
    throw new Error(`config.json: missing required field "model_type" (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  const family = familyForModelType(modelType);
  if (!family) {
    throw new Error(`config.json: unsupported model_type ${JSON.stringify(modelType)} (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  return family.parseConfig(json);
}
