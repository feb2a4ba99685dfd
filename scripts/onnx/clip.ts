/**
 * ONNX export of a Hugging Face CLIP checkpoint in the two files that
 * transformers.js loads for `CLIPTextModelWithProjection` (model_file_name
 * 'text_model') and `CLIPVisionModelWithProjection` ('vision_model'), with the
 * names of Optimum's `CLIPTextWithProjectionOnnxConfig` export:
 *
 * - `onnx/text_model.onnx`
 *     input_ids int64 [batch_size, sequence_length]
 *     → text_embeds float32 [batch_size, projection_dim]
 *       last_hidden_state float32 [batch_size, sequence_length, text_hidden]
 * - `onnx/vision_model.onnx`
 *     pixel_values float32 [batch_size, num_channels, height, width]
 *     → image_embeds float32 [batch_size, projection_dim]
 *       last_hidden_state float32 [batch_size, num_patches + 1, vision_hidden]
 *
 * Text tower: token + position embeddings, pre-LN blocks with a causal mask,
 * final LayerNorm, pooled at the EOS position, bias-free `text_projection`.
 * Pooling follows `CLIPTextTransformer.forward`: with the legacy
 * `eos_token_id == 2` (OpenAI's configs) the position is `argmax(input_ids)`;
 * otherwise it is the first position where `input_ids == eos_token_id`.
 * There is no attention_mask input (as in the published export): with the
 * causal mask and right padding the pooled output does not depend on it.
 * Vision tower: bias-free patch conv, class token, position embeddings,
 * `pre_layrnorm`, blocks, `post_layernorm` on the class token, bias-free
 * `visual_projection`. Embeddings are not normalised, as in Hugging Face.
 */
import { GraphBuilder, type WeightTensor } from './builder';
import { encoderBlock, type WeightMap } from './idefics3';
import { clipFamily, clipPoolingRule } from '../../src/models/families/clip';
import { Prng } from '../../src/models/prng';

export interface ClipTextConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  vocab_size: number;
  max_position_embeddings: number;
  hidden_act?: string;
  layer_norm_eps?: number;
  eos_token_id?: number;
  bos_token_id?: number;
  pad_token_id?: number;
  [key: string]: unknown;
}

export interface ClipVisionConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  image_size: number;
  patch_size: number;
  num_channels?: number;
  hidden_act?: string;
  layer_norm_eps?: number;
  [key: string]: unknown;
}

export interface ClipConfig {
  text_config: ClipTextConfig;
  vision_config: ClipVisionConfig;
  projection_dim: number;
  [key: string]: unknown;
}

export interface ClipOnnx {
  'onnx/text_model.onnx': Uint8Array;
  'onnx/vision_model.onnx': Uint8Array;
}

interface TowerDims {
  hidden: number;
  intermediate: number;
  heads: number;
  headDim: number;
  layers: number;
  eps: number;
  act: string;
}

function towerDims(c: ClipTextConfig | ClipVisionConfig): TowerDims {
  return {
    hidden: c.hidden_size,
    intermediate: c.intermediate_size,
    heads: c.num_attention_heads,
    headDim: c.hidden_size / c.num_attention_heads,
    layers: c.num_hidden_layers,
    eps: c.layer_norm_eps ?? 1e-5,
    act: c.hidden_act ?? 'quick_gelu',
  };
}

function need(weights: WeightMap, name: string, shape: number[]): WeightTensor {
  const w = weights.get(name);
  if (!w) throw new Error(`missing weight ${name}`);
  if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`weight ${name}: shape [${w.shape}] but expected [${shape}]`);
  }
  return w;
}

function vec(g: GraphBuilder, weights: WeightMap, name: string, n: number): string {
  return g.initFloat(name, [n], need(weights, name, [n]).data);
}

export { clipPoolingRule };

function buildText(config: ClipConfig, weights: WeightMap): Uint8Array {
  const tc = config.text_config;
  const d = towerDims(tc);
  const D = d.hidden;
  const g = new GraphBuilder('clip_text_model');
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);

  const tok = g.initFloat(
    'text_model.embeddings.token_embedding.weight',
    [tc.vocab_size, D],
    need(weights, 'text_model.embeddings.token_embedding.weight', [tc.vocab_size, D]).data,
  );
  const posTable = g.initFloat(
    'text_model.embeddings.position_embedding.weight',
    [tc.max_position_embeddings, D],
    need(weights, 'text_model.embeddings.position_embedding.weight', [tc.max_position_embeddings, D]).data,
  );
  const T = g.dim(ids, 1);
  const pos = g.op('Slice', [posTable, g.constInt64([0]), T, g.constInt64([0])]); // [T, D]
  let h = g.add(g.op('Gather', [tok, ids], { axis: 0 }), pos);

  // Causal mask [T, T]: key j visible to query i iff j <= i.
  const r = g.op('Range', [g.constInt64(0), g.squeeze(T, [0]), g.constInt64(1)]);
  const causal = g.op('LessOrEqual', [g.unsqueeze(r, [0]), g.unsqueeze(r, [1])]);

  for (let i = 0; i < d.layers; i++) h = encoderBlock(g, weights, h, `text_model.encoder.layers.${i}`, d, causal);
  h = g.layerNorm(
    h,
    vec(g, weights, 'text_model.final_layer_norm.weight', D),
    vec(g, weights, 'text_model.final_layer_norm.bias', D),
    d.eps,
  );

  // Pooled row per batch element, gathered from the flattened [B*T, D] states.
  const ids32 = g.cast(ids, 'int32');
  const idx =
    clipPoolingRule(tc.eos_token_id) === 'argmax'
      ? g.op('ArgMax', [ids32], { axis: -1, keepdims: 0 })
      : g.op('ArgMax', [g.cast(g.op('Equal', [ids, g.constInt64(tc.eos_token_id as number)]), 'int32')], {
          axis: -1,
          keepdims: 0,
        });
  const rowStart = g.mul(g.op('Range', [g.constInt64(0), g.dimScalar(ids, 0), g.constInt64(1)]), g.squeeze(T, [0]));
  const pooled = g.op('Gather', [g.reshape(h, [-1, D]), g.add(rowStart, idx)], { axis: 0 }); // [B, D]
  const proj = need(weights, 'text_projection.weight', [config.projection_dim, D]);
  const embeds = g.linear(pooled, 'text_projection.weight', proj);
  g.output(embeds, 'text_embeds', 'float32', ['batch_size', config.projection_dim]);
  g.output(h, 'last_hidden_state', 'float32', ['batch_size', 'sequence_length', D]);
  return g.build({ docString: 'CLIP text model with projection' });
}

function buildVision(config: ClipConfig, weights: WeightMap): Uint8Array {
  const vc = config.vision_config;
  const d = towerDims(vc);
  const D = d.hidden;
  const C = vc.num_channels ?? 3;
  const P = vc.patch_size;
  const side = vc.image_size / P;
  if (!Number.isInteger(side)) throw new Error('image_size must be a multiple of patch_size');
  const numPos = side * side + 1;
  const g = new GraphBuilder('clip_vision_model');
  const pv = g.input('pixel_values', 'float32', ['batch_size', C, 'height', 'width']);

  const convW = g.initFloat(
    'vision_model.embeddings.patch_embedding.weight',
    [D, C, P, P],
    need(weights, 'vision_model.embeddings.patch_embedding.weight', [D, C, P, P]).data,
  );
  const patches = g.transpose(g.reshape(g.op('Conv', [pv, convW], { kernel_shape: [P, P], strides: [P, P] }), [0, D, -1]), [
    0, 2, 1,
  ]); // [B, np, D]
  const cls = g.reshape(vec(g, weights, 'vision_model.embeddings.class_embedding', D), [1, 1, D]);
  const clsB = g.op('Expand', [cls, g.concat([g.dim(pv, 0), g.constInt64([1, D])], 0)]);
  const pos = g.initFloat(
    'vision_model.embeddings.position_embedding.weight',
    [numPos, D],
    need(weights, 'vision_model.embeddings.position_embedding.weight', [numPos, D]).data,
  );
  let h = g.add(g.concat([clsB, patches], 1), pos);
  h = g.layerNorm(
    h,
    vec(g, weights, 'vision_model.pre_layrnorm.weight', D),
    vec(g, weights, 'vision_model.pre_layrnorm.bias', D),
    d.eps,
  );
  for (let i = 0; i < d.layers; i++) h = encoderBlock(g, weights, h, `vision_model.encoder.layers.${i}`, d);
  const first = g.op('Gather', [h, g.constInt64(0)], { axis: 1 }); // [B, D]
  const pooled = g.layerNorm(
    first,
    vec(g, weights, 'vision_model.post_layernorm.weight', D),
    vec(g, weights, 'vision_model.post_layernorm.bias', D),
    d.eps,
  );
  const proj = need(weights, 'visual_projection.weight', [config.projection_dim, D]);
  g.output(g.linear(pooled, 'visual_projection.weight', proj), 'image_embeds', 'float32', ['batch_size', config.projection_dim]);
  g.output(h, 'last_hidden_state', 'float32', ['batch_size', numPos, D]);
  return g.build({ docString: 'CLIP vision model with projection' });
}

/** Builds `onnx/text_model.onnx` and `onnx/vision_model.onnx` from a Hugging Face CLIP config and weights. */
export function buildClipOnnx(config: ClipConfig, weights: WeightMap): ClipOnnx {
  return {
    'onnx/text_model.onnx': buildText(config, weights),
    'onnx/vision_model.onnx': buildVision(config, weights),
  };
}

export interface TinyClipOptions {
  /** Vocabulary size of the tokenizer that goes with the model (default 64). */
  vocabSize?: number;
  /** End-of-text id; default `vocabSize - 1` (the largest id, as in CLIP's vocabulary). */
  eosTokenId?: number;
  bosTokenId?: number;
  padTokenId?: number;
  /** Text context length (default 16). */
  maxPositionEmbeddings?: number;
  /** Each tower's width and depth (default hidden 32, intermediate 64, 4 heads, 2 layers). */
  text?: ClipTowerSize;
  vision?: ClipTowerSize;
  /** Vision input (default 32 pixels, patch 8). */
  imageSize?: number;
  patchSize?: number;
  /** Default 16. */
  projectionDim?: number;
}

export interface ClipTowerSize {
  hidden: number;
  intermediate: number;
  heads: number;
  layers: number;
}

const TINY_TOWER: ClipTowerSize = { hidden: 32, intermediate: 64, heads: 4, layers: 2 };

/**
 * A tiny random CLIP in Hugging Face layout: by default text hidden 32 (2
 * layers, 4 heads), vision image 32 / patch 8 / hidden 32 (2 layers, 4 heads),
 * projection 16. Same seed → same weights.
 */
export function makeTinyClip(seed: number, opts: TinyClipOptions = {}): { config: ClipConfig; weights: WeightMap } {
  const vocabSize = opts.vocabSize ?? 64;
  const eos = opts.eosTokenId ?? vocabSize - 1;
  const bos = opts.bosTokenId ?? vocabSize - 2;
  const pad = opts.padTokenId ?? eos;
  const projection = opts.projectionDim ?? 16;
  const text = opts.text ?? TINY_TOWER;
  const vision = opts.vision ?? TINY_TOWER;
  const config: ClipConfig = {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: projection,
    logit_scale_init_value: 2.6592,
    initializer_factor: 1.0,
    text_config: {
      model_type: 'clip_text_model',
      hidden_size: text.hidden,
      intermediate_size: text.intermediate,
      num_attention_heads: text.heads,
      num_hidden_layers: text.layers,
      vocab_size: vocabSize,
      max_position_embeddings: opts.maxPositionEmbeddings ?? 16,
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
      attention_dropout: 0.0,
      bos_token_id: bos,
      eos_token_id: eos,
      pad_token_id: pad,
      projection_dim: projection,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: vision.hidden,
      intermediate_size: vision.intermediate,
      num_attention_heads: vision.heads,
      num_hidden_layers: vision.layers,
      image_size: opts.imageSize ?? 32,
      patch_size: opts.patchSize ?? 8,
      num_channels: 3,
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
      attention_dropout: 0.0,
      projection_dim: projection,
    },
  };
  const rng = new Prng(seed);
  const weights: WeightMap = new Map();
  for (const [name, shape] of clipFamily.weightShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (name === 'logit_scale') data = Float32Array.of(2.6592);
    else if (/(layer_norm\d|final_layer_norm|layrnorm|post_layernorm)\.weight$/.test(name)) data = rng.normals(n, 0.1, 1);
    else if (name.endsWith('.bias')) data = rng.normals(n, 0.05);
    else if (name.includes('embedding') || name.endsWith('class_embedding')) data = rng.normals(n, 0.5);
    else data = rng.normals(n, 0.15);
    weights.set(name, { shape, data });
  }
  return { config, weights };
}
