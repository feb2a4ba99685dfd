/**
 * Idefics3 / SmolVLM (`Idefics3ForConditionalGeneration`): SigLIP vision tower, pixel-shuffle connector, Llama
 * decoder. Its tensors:
 *   model.vision_model.embeddings.patch_embedding.{weight [Dv,C,P,P], bias [Dv]}
 *   model.vision_model.embeddings.position_embedding.weight            [(image/P)², Dv]
 *   model.vision_model.encoder.layers.{i}.{layer_norm1,self_attn.{q,k,v,out}_proj,layer_norm2,mlp.{fc1,fc2}}.{weight,bias}
 *   model.vision_model.post_layernorm.{weight,bias}
 *   model.connector.modality_projection.proj.weight                     [D, Dv·s²]
 *   model.text_model.*                                                  the Llama decoder (llama.ts)
 *   lm_head.weight                                                      (absent when tied)
 * Linear weights are [out, in]; names not listed (e.g. rotary buffers) are ignored.
 */
import type { Idefics3Config, TextConfig, VisionConfig } from '../config';
import { Idefics3Connector } from '../tfjs/connector';
import { Idefics3Model } from '../tfjs/idefics3';
import { type SiglipLayer, SiglipVisionTransformer } from '../tfjs/siglip';
import type { WeightReader } from '../tfjs/weightReader';
import type * as tf from '@tensorflow/tfjs';
import { bool, isObject, nonNegativeInt, parseTextConfig, parseVisionConfig, positiveInt, type Json } from './fields';
import { buildLlama, llamaShapes } from './llama';
import type { MllmFamily } from './types';

const VISION = 'model.vision_model.';
const CONNECTOR = 'model.connector.modality_projection.proj';
const TEXT_PREFIX = 'model.text_model.';
/** `Idefics3Config.image_token_id`'s default. */
const DEFAULT_IMAGE_TOKEN_ID = 128257;

function parseIdefics3Config(json: Json): Idefics3Config {
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
  const imageTokenId = nonNegativeInt(json, 'image_token_id', '', DEFAULT_IMAGE_TOKEN_ID);
  if (imageTokenId >= text.vocabSize) {
    throw new Error(`config.json: "image_token_id" (${imageTokenId}) must be below "text_config.vocab_size" (${text.vocabSize})`);
  }
  return { modelType: 'idefics3', vision, text, scaleFactor, imageTokenId };
}

/** The SigLIP tower's tensors, in its modules' order. */
function siglipShapes(vision: VisionConfig, out: Map<string, number[]>): void {
  const { hiddenSize: d, intermediateSize: f, patchSize: p, numChannels: c } = vision;
  const side = vision.imageSize / p;
  const e = `${VISION}embeddings.`;
  out.set(`${e}patch_embedding.weight`, [d, c, p, p]);
  out.set(`${e}patch_embedding.bias`, [d]);
  out.set(`${e}position_embedding.weight`, [side * side, d]);
  for (let i = 0; i < vision.numLayers; i++) {
    const l = `${VISION}encoder.layers.${i}.`;
    out.set(`${l}layer_norm1.weight`, [d]);
    out.set(`${l}layer_norm1.bias`, [d]);
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      out.set(`${l}self_attn.${proj}.weight`, [d, d]);
      out.set(`${l}self_attn.${proj}.bias`, [d]);
    }
    out.set(`${l}layer_norm2.weight`, [d]);
    out.set(`${l}layer_norm2.bias`, [d]);
    out.set(`${l}mlp.fc1.weight`, [f, d]);
    out.set(`${l}mlp.fc1.bias`, [f]);
    out.set(`${l}mlp.fc2.weight`, [d, f]);
    out.set(`${l}mlp.fc2.bias`, [d]);
  }
  out.set(`${VISION}post_layernorm.weight`, [d]);
  out.set(`${VISION}post_layernorm.bias`, [d]);
}

/** Every tensor of the checkpoint: the SigLIP tower, the connector, the decoder. */
export function idefics3Shapes(vision: VisionConfig, text: TextConfig, scaleFactor: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  siglipShapes(vision, out);
  out.set(`${CONNECTOR}.weight`, [text.hiddenSize, vision.hiddenSize * scaleFactor * scaleFactor]);
  llamaShapes(text, TEXT_PREFIX, out);
  return out;
}

function buildSiglip(vision: VisionConfig, r: WeightReader): SiglipVisionTransformer {
  const e = `${VISION}embeddings.`;
  const ln = (name: string) => ({ weight: r.get<tf.Tensor1D>(`${name}.weight`), bias: r.get<tf.Tensor1D>(`${name}.bias`) });
  const layers: SiglipLayer[] = [];
  for (let i = 0; i < vision.numLayers; i++) {
    const l = `${VISION}encoder.layers.${i}.`;
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
    postLayernorm: ln(`${VISION}post_layernorm`),
  });
}

export const idefics3Family: MllmFamily<Idefics3Config> = {
  id: 'idefics3',
  name: 'SmolVLM',
  modelTypes: ['idefics3', 'smolvlm'],
  multimodal: true,
  textPrefix: TEXT_PREFIX,
  parseConfig: parseIdefics3Config,
  weightShapes: (config) => idefics3Shapes(config.vision, config.text, config.scaleFactor),
  buildTfjs(config, reader, lora) {
    const vision = buildSiglip(config.vision, reader);
    const connector = new Idefics3Connector(config.scaleFactor, reader.linear(CONNECTOR, false));
    const text = buildLlama(config.text, TEXT_PREFIX, reader, lora);
    return new Idefics3Model(config, vision, connector, text);
  },
  // SmolVLM's template takes content parts, an image part before the text.
  chatFormat: (endOfTurnId) => ({ contentAsParts: true, endOfTurnId }),
  // The ONNX engine has run only `idefics3` exports (SmolVLM-256M/500M-Instruct and the tiny model).
  onnx: { modelTypes: ['idefics3'], sessions: ['vision_encoder', 'embed_tokens', 'decoder_model_merged'], modelClass: 'AutoModelForVision2Seq' },
};
