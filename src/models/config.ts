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
 * field throws an Error naming it.
 */

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

export const SUPPORTED_MODEL_TYPES = ['idefics3', 'smolvlm', 'llama'] as const;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fieldPath(where: string, key: string): string {
  return where ? `${where}.${key}` : key;
}

function positiveInt(obj: Json, key: string, where: string, fallback?: number): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new Error(`config.json: missing required field "${fieldPath(where, key)}"`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`config.json: field "${fieldPath(where, key)}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function nonNegativeInt(obj: Json, key: string, where: string, fallback: number): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new Error(`config.json: field "${fieldPath(where, key)}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function positiveNumber(obj: Json, key: string, where: string, fallback: number): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new Error(`config.json: field "${fieldPath(where, key)}" must be a positive number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function bool(obj: Json, key: string, where: string, fallback: boolean): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') {
    throw new Error(`config.json: field "${fieldPath(where, key)}" must be a boolean, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkActivation(obj: Json, where: string, allowed: readonly string[], fallback: string): void {
  const v = obj.hidden_act ?? fallback;
  if (typeof v !== 'string' || !allowed.includes(v)) {
    throw new Error(
      `config.json: unsupported "${fieldPath(where, 'hidden_act')}" ${JSON.stringify(v)} (supported: ${allowed.join(', ')})`,
    );
  }
}

/** rope_theta lives at the top of the text config, or (transformers v5) under `rope_parameters`. */
function ropeTheta(obj: Json, where: string): number {
  const params = obj.rope_parameters;
  if (obj.rope_theta === undefined && isObject(params) && params.rope_theta !== undefined) {
    return positiveNumber(params, 'rope_theta', fieldPath(where, 'rope_parameters'), 10000);
  }
  return positiveNumber(obj, 'rope_theta', where, 10000);
}

function checkRopeScaling(obj: Json, where: string): void {
  for (const key of ['rope_scaling', 'rope_parameters']) {
    const s = obj[key];
    if (s === undefined || s === null) continue;
    if (!isObject(s)) throw new Error(`config.json: field "${fieldPath(where, key)}" must be an object or null`);
    const type = s.rope_type ?? s.type ?? 'default';
    if (type !== 'default') {
      throw new Error(`config.json: unsupported RoPE scaling "${String(type)}" in "${fieldPath(where, key)}" (supported: default)`);
    }
  }
}

/** Parse a Llama text config (the whole config.json of SmolLM2, or `text_config` of SmolVLM). */
export function parseTextConfig(obj: Json, where = '', tieFallback = false): TextConfig {
  checkActivation(obj, where, ['silu'], 'silu');
  checkRopeScaling(obj, where);
  if (obj.attention_bias === true) throw new Error(`config.json: "${fieldPath(where, 'attention_bias')}": true is not supported`);
  if (obj.mlp_bias === true) throw new Error(`config.json: "${fieldPath(where, 'mlp_bias')}": true is not supported`);
  const hiddenSize = positiveInt(obj, 'hidden_size', where);
  const numHeads = positiveInt(obj, 'num_attention_heads', where);
  const numKvHeads = positiveInt(obj, 'num_key_value_heads', where, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new Error(
      `config.json: "${fieldPath(where, 'num_attention_heads')}" (${numHeads}) must be a multiple of "${fieldPath(where, 'num_key_value_heads')}" (${numKvHeads})`,
    );
  }
  const defaultHeadDim = Math.floor(hiddenSize / numHeads);
  const headDim = positiveInt(obj, 'head_dim', where, defaultHeadDim);
  if (headDim % 2 !== 0) throw new Error(`config.json: "${fieldPath(where, 'head_dim')}" must be even for rotary embeddings, got ${headDim}`);
  return {
    hiddenSize,
    intermediateSize: positiveInt(obj, 'intermediate_size', where),
    numLayers: positiveInt(obj, 'num_hidden_layers', where),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positiveNumber(obj, 'rms_norm_eps', where, 1e-6),
    ropeTheta: ropeTheta(obj, where),
    vocabSize: positiveInt(obj, 'vocab_size', where),
    tieWordEmbeddings: bool(obj, 'tie_word_embeddings', where, tieFallback),
    maxPositionEmbeddings: positiveInt(obj, 'max_position_embeddings', where, 2048),
  };
}

/** Parse the SigLIP `vision_config` of an Idefics3 / SmolVLM config. */
export function parseVisionConfig(obj: Json, where = 'vision_config'): VisionConfig {
  checkActivation(obj, where, ['gelu_pytorch_tanh', 'gelu_new'], 'gelu_pytorch_tanh');
  const hiddenSize = positiveInt(obj, 'hidden_size', where);
  const numHeads = positiveInt(obj, 'num_attention_heads', where);
  if (hiddenSize % numHeads !== 0) {
    throw new Error(`config.json: "${where}.hidden_size" (${hiddenSize}) must be divisible by "${where}.num_attention_heads" (${numHeads})`);
  }
  const imageSize = positiveInt(obj, 'image_size', where, 224);
  const patchSize = positiveInt(obj, 'patch_size', where, 32);
  if (imageSize % patchSize !== 0) {
    throw new Error(`config.json: "${where}.image_size" (${imageSize}) must be divisible by "${where}.patch_size" (${patchSize})`);
  }
  return {
    hiddenSize,
    intermediateSize: positiveInt(obj, 'intermediate_size', where, 3072),
    numLayers: positiveInt(obj, 'num_hidden_layers', where, 12),
    numHeads,
    imageSize,
    patchSize,
    layerNormEps: positiveNumber(obj, 'layer_norm_eps', where, 1e-6),
    numChannels: positiveInt(obj, 'num_channels', where, 3),
  };
}

/** Parse a Hugging Face `config.json` object (already JSON.parse'd) into a typed config. */
export function parseModelConfig(json: unknown): ModelConfig {
  if (!isObject(json)) throw new Error('config.json: expected a JSON object');
  const modelType = json.model_type;
  if (modelType === undefined) {
    throw new Error(`config.json: missing required field "model_type" (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  if (modelType === 'llama') {
    return { modelType: 'llama', text: parseTextConfig(json) };
  }
  if (modelType === 'idefics3' || modelType === 'smolvlm') {
    const textJson = json.text_config;
    const visionJson = json.vision_config;
    if (!isObject(textJson)) throw new Error('config.json: missing required field "text_config"');
    if (!isObject(visionJson)) throw new Error('config.json: missing required field "vision_config"');
    const textType = textJson.model_type ?? 'llama';
    if (textType !== 'llama') {
      throw new Error(`config.json: unsupported text_config.model_type ${JSON.stringify(textType)} (supported: llama)`);
    }
    const topTie = bool(json, 'tie_word_embeddings', '', false);
    const text = parseTextConfig(textJson, 'text_config', topTie);
    const vision = parseVisionConfig(visionJson);
    const scaleFactor = positiveInt(json, 'scale_factor', '', 2);
    const side = vision.imageSize / vision.patchSize;
    if (side % scaleFactor !== 0) {
      throw new Error(
        `config.json: patches per side (${side} = image_size/patch_size) must be divisible by "scale_factor" (${scaleFactor})`,
      );
    }
    const imageTokenId = nonNegativeInt(json, 'image_token_id', '', 128257);
    if (imageTokenId >= text.vocabSize) {
      throw new Error(`config.json: "image_token_id" (${imageTokenId}) must be below "text_config.vocab_size" (${text.vocabSize})`);
    }
    return { modelType: 'idefics3', vision, text, scaleFactor, imageTokenId };
  }
  throw new Error(
    `config.json: unsupported model_type ${JSON.stringify(modelType)} (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
  );
}

/** Number of image tokens one image becomes: (image_size/patch_size)² / scale_factor². */
export function imageSeqLen(config: Idefics3Config): number {
  const side = config.vision.imageSize / config.vision.patchSize;
  return (side * side) / (config.scaleFactor * config.scaleFactor);
}
