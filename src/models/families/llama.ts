/**
 * Llama / SmolLM2 (`LlamaForCausalLM`): the decoder alone. Its tensors, under `model.`:
 *   embed_tokens.weight [V, D]; layers.{i}.self_attn.{q,k,v,o}_proj.weight; layers.{i}.mlp.{gate,up,down}_proj.weight;
 *   layers.{i}.{input_layernorm,post_attention_layernorm}.weight; norm.weight; lm_head.weight [V, D] (absent when tied).
 * Linear weights are [out, in]. The same decoder is Idefics3's language model, under `model.text_model.`.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LlamaConfig, TextConfig } from '../config';
import { type LlamaLayer, LlamaModel } from '../tfjs/llama';
import type { LoraAdapters } from '../tfjs/lora';
import type { WeightReader } from '../tfjs/weightReader';
import { parseTextConfig } from './fields';
import type { MllmFamily } from './types';

/** The decoder's tensors under `prefix`, with `lm_head.weight` unless the embeddings are tied. */
export function llamaShapes(text: TextConfig, prefix: string, out: Map<string, number[]>): void {
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

/** The TF.js decoder from the tensors under `prefix`. */
export function buildLlama(text: TextConfig, prefix: string, r: WeightReader, lora: LoraAdapters): LlamaModel {
  const embedTokens = r.get<tf.Tensor2D>(`${prefix}embed_tokens.weight`);
  const layers: LlamaLayer[] = [];
  for (let i = 0; i < text.numLayers; i++) {
    const l = `${prefix}layers.${i}.`;
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
  const norm = r.get<tf.Tensor1D>(`${prefix}norm.weight`);
  const lmHead = text.tieWordEmbeddings ? embedTokens : r.get<tf.Tensor2D>('lm_head.weight');
  return new LlamaModel(text, { embedTokens, layers, norm, lmHead }, lora);
}

const PREFIX = 'model.';

export const llamaFamily: MllmFamily<LlamaConfig> = {
  id: 'llama',
  name: 'SmolLM2',
  modelTypes: ['llama'],
  multimodal: false,
  textPrefix: PREFIX,
  parseConfig: (json) => ({ modelType: 'llama', text: parseTextConfig(json) }),
  weightShapes(config) {
    const out = new Map<string, number[]>();
    llamaShapes(config.text, PREFIX, out);
    return out;
  },
  buildTfjs: (config, reader, lora) => buildLlama(config.text, PREFIX, reader, lora),
  // SmolLM2's ChatML template takes plain-string contents.
  chatFormat: (endOfTurnId) => ({ contentAsParts: false, endOfTurnId }),
  onnx: { modelTypes: ['llama'], sessions: ['model'], modelClass: 'AutoModelForCausalLM' },
};
