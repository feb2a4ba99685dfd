/**
 * The field readers every family's config parser shares: typed values with the Hugging Face defaults, and errors
 * that name the field (`config.json: field "text_config.hidden_size" must be …`). The defaults are listed in
 * config.ts.
 */
import type { Idefics3Config, TextConfig, VisionConfig } from '../config';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fieldPath(where: string, key: string): string {
  return where ? `${where}.${key}` : key;
}

export function positiveInt(obj: Json, key: string, where: string, fallback?: number): number {
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

export function nonNegativeInt(obj: Json, key: string, where: string, fallback: number): number {
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

export function bool(obj: Json, key: string, where: string, fallback: boolean): boolean {
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

/** Number of image tokens one image becomes: (image_size/patch_size)² / scale_factor². */
export function imageSeqLen(config: Idefics3Config): number {
  const side = config.vision.imageSize / config.vision.patchSize;
  return (side * side) / (config.scaleFactor * config.scaleFactor);
}
