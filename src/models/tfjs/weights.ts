/**
 * Building the TF.js models from a map of named tensors keyed by the exact
 * Hugging Face parameter names (as found in `model.safetensors`), and a seeded
 * random generator of such maps for tests and benchmarks.
 *
 * Idefics3 / SmolVLM names:
 *   model.vision_model.embeddings.patch_embedding.{weight [Dv,C,P,P], bias [Dv]}
 *   model.vision_model.embeddings.position_embedding.weight            [(image/P)², Dv]
 *   model.vision_model.encoder.layers.{i}.{layer_norm1,layer_norm2}.{weight,bias}
 *   model.vision_model.encoder.layers.{i}.self_attn.{q,k,v,out}_proj.{weight,bias}
 *   model.vision_model.encoder.layers.{i}.mlp.{fc1,fc2}.{weight,bias}
 *   model.vision_model.post_layernorm.{weight,bias}
 *   model.connector.modality_projection.proj.weight                     [D, Dv·s²]
 *   model.text_model.embed_tokens.weight                                [V, D]
 *   model.text_model.layers.{i}.self_attn.{q,k,v,o}_proj.weight
 *   model.text_model.layers.{i}.mlp.{gate,up,down}_proj.weight
 *   model.text_model.layers.{i}.{input_layernorm,post_attention_layernorm}.weight
 *   model.text_model.norm.weight
 *   lm_head.weight                                                      (absent when tied)
 * Plain Llama (SmolLM2): the same text names without `text_model.` (model.embed_tokens.weight, …).
 * Linear weights are [out, in]. Names not listed (e.g. rotary buffers) are ignored.
 */
import * as tf from '@tensorflow/tfjs';
import type { Idefics3Config, LlamaConfig, ModelConfig, TextConfig, VisionConfig } from '../config';
import { Idefics3Connector } from './connector';
import { Idefics3Model } from './idefics3';
import { type LlamaLayer, LlamaModel } from './llama';
import { Linear, LoraAdapters, type LoraOptions } from './lora';
import { Prng } from '../prng';
import { type SiglipLayer, SiglipVisionTransformer } from './siglip';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type WeightMap = Map<string, NamedTensor>;

/** Default LoRA settings when none are given (rank 8, alpha 16, every LM linear). */
export const DEFAULT_LORA: LoraOptions = { r: 8, alpha: 16 };

function textPrefix(config: ModelConfig): string {
  return config.modelType === 'idefics3' ? 'model.text_model.' : 'model.';
}

function textShapes(text: TextConfig, prefix: string, out: Map<string, number[]>): void {
  const { hiddenSize: d, intermediateSize: f, numHeads: nh, numKvHeads: nkv, headDim: hd, vocabSize: v } = text;
  out.set(`${prefix}embed_tokens.weight`, [v, d]);
  for (let i = 0; i < text.numLayers; i++) {
    const l = `${prefix}layers.${i}.`;
    out.set(`${l}self_attn.q_proj.weight`, [nh * hd, d]);
    out.set(`${l}self_attn.k_proj.weight`, [nkv * hd, d]);
    out.set(`${l}self_attn.v_proj.weight`, [nkv * hd, d]);
    out.set(`${l}self_attn.o_proj.weight`, [d, nh * hd]);
    out.set(`${l}mlp.gate_proj.weight`, [f, d]);
    out.set(`${l}mlp.up_proj.weight`, [f, d]);
    out.set(`${l}mlp.down_proj.weight`, [d, f]);
    out.set(`${l}input_layernorm.weight`, [d]);
    out.set(`${l}post_attention_layernorm.weight`, [d]);
  }
  out.set(`${prefix}norm.weight`, [d]);
  if (!text.tieWordEmbeddings) out.set('lm_head.weight', [v, d]);
}

function visionShapes(vision: VisionConfig, out: Map<string, number[]>): void {
  const { hiddenSize: d, intermediateSize: f, patchSize: p, numChannels: c } = vision;
  const side = vision.imageSize / p;
  const e = 'model.vision_model.embeddings.';
  out.set(`${e}patch_embedding.weight`, [d, c, p, p]);
  out.set(`${e}patch_embedding.bias`, [d]);
  out.set(`${e}position_embedding.weight`, [side * side, d]);
  for (let i = 0; i < vision.numLayers; i++) {
    const l = `model.vision_model.encoder.layers.${i}.`;
    for (const ln of ['layer_norm1', 'layer_norm2']) {
      out.set(`${l}${ln}.weight`, [d]);
      out.set(`${l}${ln}.bias`, [d]);
    }
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      out.set(`${l}self_attn.${proj}.weight`, [d, d]);
      out.set(`${l}self_attn.${proj}.bias`, [d]);
    }
    out.set(`${l}mlp.fc1.weight`, [f, d]);
    out.set(`${l}mlp.fc1.bias`, [f]);
    out.set(`${l}mlp.fc2.weight`, [d, f]);
    out.set(`${l}mlp.fc2.bias`, [d]);
  }
  out.set('model.vision_model.post_layernorm.weight', [d]);
  out.set('model.vision_model.post_layernorm.bias', [d]);
}

/** Every parameter the model needs, by Hugging Face name, with its shape (insertion order = load order). */
export function expectedShapes(config: ModelConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (config.modelType === 'idefics3') {
    visionShapes(config.vision, out);
    const s = config.scaleFactor;
    out.set('model.connector.modality_projection.proj.weight', [config.text.hiddenSize, config.vision.hiddenSize * s * s]);
  }
  textShapes(config.text, textPrefix(config), out);
  return out;
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

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Reads tensors out of a weight map, checking names and shapes; every tensor it creates is tracked for cleanup. */
class WeightReader {
  readonly created: tf.Tensor[] = [];

  constructor(
    private readonly map: WeightMap,
    private readonly shapes: Map<string, number[]>,
  ) {}

  /** Check every expected tensor before creating any (so a bad file fails fast and leaks nothing). */
  validate(): void {
    for (const [name, expected] of this.shapes) {
      const t = this.map.get(name);
      if (!t) throw new Error(`missing tensor "${name}" (expected shape ${fmt(expected)})`);
      if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
        throw new Error(`tensor "${name}" has shape ${fmt(t.shape)}, expected ${fmt(expected)}`);
      }
      const size = expected.reduce((a, b) => a * b, 1);
      if (t.data.length !== size) {
        throw new Error(`tensor "${name}" has ${t.data.length} values, expected ${size} for shape ${fmt(expected)}`);
      }
    }
  }

  get<T extends tf.Tensor>(name: string): T {
    const t = this.map.get(name);
    const shape = this.shapes.get(name);
    if (!t || !shape) throw new Error(`missing tensor "${name}"`);
    const tensor = tf.tensor(t.data, shape, 'float32') as T;
    this.created.push(tensor);
    return tensor;
  }

  linear(name: string, withBias: boolean, lora?: LoraAdapters): Linear {
    const w = this.get<tf.Tensor2D>(`${name}.weight`);
    const b = withBias ? this.get<tf.Tensor1D>(`${name}.bias`) : null;
    const adapter = lora?.attach(name, w.shape[1], w.shape[0]);
    return new Linear(name, w, b, adapter, lora?.scaling ?? 1);
  }
}

function buildText(config: ModelConfig, r: WeightReader, lora: LoraAdapters): LlamaModel {
  const text = config.text;
  const p = textPrefix(config);
  const embedTokens = r.get<tf.Tensor2D>(`${p}embed_tokens.weight`);
  const layers: LlamaLayer[] = [];
  for (let i = 0; i < text.numLayers; i++) {
    const l = `${p}layers.${i}.`;
    layers.push({
      inputLayernorm: r.get(`${l}input_layernorm.weight`),
      qProj: r.linear(`${l}self_attn.q_proj`, false, lora),
      kProj: r.linear(`${l}self_attn.k_proj`, false, lora),
      vProj: r.linear(`${l}self_attn.v_proj`, false, lora),
      oProj: r.linear(`${l}self_attn.o_proj`, false, lora),
      postAttentionLayernorm: r.get(`${l}post_attention_layernorm.weight`),
      gateProj: r.linear(`${l}mlp.gate_proj`, false, lora),
      upProj: r.linear(`${l}mlp.up_proj`, false, lora),
      downProj: r.linear(`${l}mlp.down_proj`, false, lora),
    });
  }
  const norm = r.get<tf.Tensor1D>(`${p}norm.weight`);
  const lmHead = text.tieWordEmbeddings ? embedTokens : r.get<tf.Tensor2D>('lm_head.weight');
  return new LlamaModel(text, { embedTokens, layers, norm, lmHead }, lora);
}

function buildVision(vision: VisionConfig, r: WeightReader): SiglipVisionTransformer {
  const e = 'model.vision_model.embeddings.';
  const ln = (name: string) => ({ weight: r.get<tf.Tensor1D>(`${name}.weight`), bias: r.get<tf.Tensor1D>(`${name}.bias`) });
  const layers: SiglipLayer[] = [];
  for (let i = 0; i < vision.numLayers; i++) {
    const l = `model.vision_model.encoder.layers.${i}.`;
    layers.push({
      layerNorm1: ln(`${l}layer_norm1`),
      qProj: r.linear(`${l}self_attn.q_proj`, true),
      kProj: r.linear(`${l}self_attn.k_proj`, true),
      vProj: r.linear(`${l}self_attn.v_proj`, true),
      outProj: r.linear(`${l}self_attn.out_proj`, true),
      layerNorm2: ln(`${l}layer_norm2`),
      fc1: r.linear(`${l}mlp.fc1`, true),
      fc2: r.linear(`${l}mlp.fc2`, true),
    });
  }
  return new SiglipVisionTransformer(vision, {
    patchWeight: r.get(`${e}patch_embedding.weight`),
    patchBias: r.get(`${e}patch_embedding.bias`),
    positionEmbedding: r.get(`${e}position_embedding.weight`),
    layers,
    postLayernorm: ln('model.vision_model.post_layernorm'),
  });
}

function withCleanup<T>(reader: WeightReader, lora: LoraAdapters, build: () => T): T {
  try {
    return build();
  } catch (err) {
    tf.dispose(reader.created);
    lora.dispose();
    throw err;
  }
}

/** Build a SmolLM2 / Llama model from HF-named tensors. LoRA adapters are created for the targeted linears. */
export function loadLlamaModel(config: LlamaConfig, weights: WeightMap, lora: LoraOptions = DEFAULT_LORA): LlamaModel {
  const reader = new WeightReader(weights, expectedShapes(config));
  reader.validate();
  const adapters = new LoraAdapters(lora);
  return withCleanup(reader, adapters, () => buildText(config, reader, adapters));
}

/** Build an Idefics3 / SmolVLM model from HF-named tensors. LoRA adapters go on the language model's linears. */
export function loadIdefics3Model(config: Idefics3Config, weights: WeightMap, lora: LoraOptions = DEFAULT_LORA): Idefics3Model {
  const reader = new WeightReader(weights, expectedShapes(config));
  reader.validate();
  const adapters = new LoraAdapters(lora);
  return withCleanup(reader, adapters, () => {
    const vision = buildVision(config.vision, reader);
    const connector = new Idefics3Connector(config.scaleFactor, reader.linear('model.connector.modality_projection.proj', false));
    const text = buildText(config, reader, adapters);
    return new Idefics3Model(config, vision, connector, text);
  });
}
