/**
 * Building the TF.js models from a map of named tensors keyed by the exact Hugging Face parameter names (as found in
 * `model.safetensors`), and a seeded random generator of such maps for tests and benchmarks. Which tensors a model
 * has, and how they become its layers, is its family's (src/models/families/).
 */
import * as tf from '@tensorflow/tfjs';
import type { Idefics3Config, LlamaConfig, ModelConfig } from '../config';
import { familyOf } from '../families';
import type { Idefics3Model } from './idefics3';
import type { LlamaModel } from './llama';
import { LoraAdapters, type LoraOptions } from './lora';
import { Prng } from '../prng';
import { WeightReader, type WeightMap } from './weightReader';

/** Default LoRA settings when none are given (rank 8, alpha 16, every LM linear). */
export const DEFAULT_LORA: LoraOptions = { r: 8, alpha: 16 };

/** Every parameter the model needs, by Hugging Face name, with its shape (insertion order = load order). */
export function expectedShapes(config: ModelConfig): Map<string, number[]> {
  return familyOf(config).weightShapes(config);
}

/** Total number of parameters (tied embeddings counted once). */
export function parameterCount(config: ModelConfig): number {
  let n = 0;
  for (const shape of expectedShapes(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

export interface RandomWeightOptions {
  /** std of the normal init of matrices, embeddings and biases (HF initializer_range is 0.02) */
  std?: number;
  /** std of the noise added to 1 for norm weights (default: std) */
  normStd?: number;
}

/**
 * A complete random weight map for `config`, reproducible from `seed`: matrices,
 * embeddings and biases ~ N(0, std²); LayerNorm/RMSNorm weights ~ 1 + N(0, normStd²).
 */
export function randomWeights(config: ModelConfig, seed: number, options: RandomWeightOptions = {}): WeightMap {
  const std = options.std ?? 0.02;
  const normStd = options.normStd ?? std;
  const prng = new Prng(seed);
  const out: WeightMap = new Map();
  for (const [name, shape] of expectedShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isNormWeight = /(layer_norm\d|layernorm|norm)\.weight$/.test(name) && shape.length === 1;
    for (let i = 0; i < data.length; i++) data[i] = isNormWeight ? 1 + normStd * prng.normal() : std * prng.normal();
    out.set(name, { shape: shape.slice(), data });
  }
  return out;
}

/** The model of `config`'s family from HF-named tensors, checked before any tensor is created. LoRA adapters go on the language model's linears. */
export function loadTfjsModel(config: ModelConfig, weights: WeightMap, lora: LoraOptions = DEFAULT_LORA): Idefics3Model | LlamaModel {
  const family = familyOf(config);
  const reader = new WeightReader(weights, family.weightShapes(config));
  reader.validate();
  const adapters = new LoraAdapters(lora);
  try {
    return family.buildTfjs(config, reader, adapters);
  } catch (err) {
    tf.dispose(reader.created);
    adapters.dispose();
    throw err;
  }
}

/**
 * Full-weight training, the mode beside LoRA: the model of `config`'s family with every weight a trainable
 * tf.Variable (vision tower, connector and decoder alike; a tied head is its embedding's one variable) and no LoRA
 * adapters, with the variables by their Hugging Face names in the family's order, as `model.safetensors` names them.
 */
export function loadTrainableTfjsModel(config: ModelConfig, weights: WeightMap): { model: Idefics3Model | LlamaModel; variables: Map<string, tf.Variable> } {
  const family = familyOf(config);
  const reader = new WeightReader(weights, family.weightShapes(config), true);
  reader.validate();
  const adapters = new LoraAdapters({ ...DEFAULT_LORA, targetModules: [] });
  try {
    return { model: family.buildTfjs(config, reader, adapters), variables: reader.variables };
  } catch (err) {
    tf.dispose(reader.created);
    adapters.dispose();
    throw err;
  }
}

/** The current values of trained variables as a weight map (what `model.safetensors` is written from). */
export async function weightMapOf(variables: Map<string, tf.Variable>): Promise<WeightMap> {
  const out: WeightMap = new Map();
  for (const [name, v] of variables) out.set(name, { shape: [...v.shape], data: Float32Array.from((await v.data()) as Float32Array) });
  return out;
}

/** Build a SmolLM2 / Llama model from HF-named tensors. */
export function loadLlamaModel(config: LlamaConfig, weights: WeightMap, lora: LoraOptions = DEFAULT_LORA): LlamaModel {
  return loadTfjsModel(config, weights, lora) as LlamaModel;
}

/** Build an Idefics3 / SmolVLM model from HF-named tensors. */
export function loadIdefics3Model(config: Idefics3Config, weights: WeightMap, lora: LoraOptions = DEFAULT_LORA): Idefics3Model {
  return loadTfjsModel(config, weights, lora) as Idefics3Model;
}
