/**
 * CLIP (`CLIPModel`): the scorer of sentence–image similarity. Not an MLLM: the ONNX engine of src/models/clip.ts
 * runs its two towers through transformers.js, and the tiny-model generator stores its tensors.
 */
import type { OnnxSessions } from './types';

/** The config.json fields that fix CLIP's tensor shapes. */
export interface ClipShapeConfig {
  text_config: { hidden_size: number; intermediate_size: number; num_hidden_layers: number; vocab_size: number; max_position_embeddings: number };
  vision_config: { hidden_size: number; intermediate_size: number; num_hidden_layers: number; image_size: number; patch_size: number; num_channels?: number };
  projection_dim: number;
}

/** The Hugging Face `CLIPModel` weight names and shapes for `config`. */
function clipWeightShapes(config: ClipShapeConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const tc = config.text_config;
  const vc = config.vision_config;
  const block = (prefix: string, D: number, I: number): void => {
    for (const n of ['layer_norm1', 'layer_norm2']) {
      out.set(`${prefix}.${n}.weight`, [D]);
      out.set(`${prefix}.${n}.bias`, [D]);
    }
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      out.set(`${prefix}.self_attn.${n}.weight`, [D, D]);
      out.set(`${prefix}.self_attn.${n}.bias`, [D]);
    }
    out.set(`${prefix}.mlp.fc1.weight`, [I, D]);
    out.set(`${prefix}.mlp.fc1.bias`, [I]);
    out.set(`${prefix}.mlp.fc2.weight`, [D, I]);
    out.set(`${prefix}.mlp.fc2.bias`, [D]);
  };
  const Dt = tc.hidden_size;
  out.set('text_model.embeddings.token_embedding.weight', [tc.vocab_size, Dt]);
  out.set('text_model.embeddings.position_embedding.weight', [tc.max_position_embeddings, Dt]);
  for (let i = 0; i < tc.num_hidden_layers; i++) block(`text_model.encoder.layers.${i}`, Dt, tc.intermediate_size);
  out.set('text_model.final_layer_norm.weight', [Dt]);
  out.set('text_model.final_layer_norm.bias', [Dt]);
  const Dv = vc.hidden_size;
  const C = vc.num_channels ?? 3;
  const side = vc.image_size / vc.patch_size;
  out.set('vision_model.embeddings.class_embedding', [Dv]);
  out.set('vision_model.embeddings.patch_embedding.weight', [Dv, C, vc.patch_size, vc.patch_size]);
  out.set('vision_model.embeddings.position_embedding.weight', [side * side + 1, Dv]);
  out.set('vision_model.pre_layrnorm.weight', [Dv]);
  out.set('vision_model.pre_layrnorm.bias', [Dv]);
  for (let i = 0; i < vc.num_hidden_layers; i++) block(`vision_model.encoder.layers.${i}`, Dv, vc.intermediate_size);
  out.set('vision_model.post_layernorm.weight', [Dv]);
  out.set('vision_model.post_layernorm.bias', [Dv]);
  out.set('visual_projection.weight', [config.projection_dim, Dv]);
  out.set('text_projection.weight', [config.projection_dim, Dt]);
  out.set('logit_scale', []);
  return out;
}

/**
 * The text tower's pooled position, by `CLIPTextTransformer.forward`'s rule: with the legacy `eos_token_id == 2`
 * (OpenAI's configs) it is `argmax(input_ids)`; otherwise the first position where `input_ids == eos_token_id`.
 */
export function clipPoolingRule(eosTokenId: number | undefined): 'argmax' | 'first-eos' {
  return eosTokenId === 2 || eosTokenId === undefined ? 'argmax' : 'first-eos';
}

export interface ClipFamily {
  modelTypes: readonly string[];
  weightShapes(config: ClipShapeConfig): Map<string, number[]>;
  /** transformers.js loads each tower with its own class, from the session of the same name. */
  onnx: Pick<OnnxSessions, 'sessions'> & { modelClasses: readonly ['CLIPTextModelWithProjection', 'CLIPVisionModelWithProjection'] };
}

export const clipFamily: ClipFamily = {
  modelTypes: ['clip'],
  weightShapes: clipWeightShapes,
  onnx: {
    sessions: ['text_model', 'vision_model'],
    modelClasses: ['CLIPTextModelWithProjection', 'CLIPVisionModelWithProjection'],
  },
};
