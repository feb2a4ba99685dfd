/**
 * ONNX export of an Idefics3 / SmolVLM checkpoint, in the three files and with
 * the input/output names that transformers.js (v4) loads for
 * `Idefics3ForConditionalGeneration` / `SmolVLMForConditionalGeneration`:
 *
 * - `onnx/vision_encoder.onnx`
 *     pixel_values         float32 [batch_size, num_images, 3, height, width]
 *     pixel_attention_mask bool    [batch_size, num_images, height, width]
 *     → image_features     float32 [num_real_images, image_seq_len, text_hidden]
 *   SigLIP (patch conv + position embedding, pre-LN blocks with tanh-GELU MLP,
 *   post LayerNorm), then the Idefics3 connector (pixel shuffle by
 *   `scale_factor`, bias-free projection). As in Hugging Face
 *   `Idefics3Model.get_image_features`, images whose pixels are all 0.0 are
 *   padding and are dropped (the first is kept when all are padding).
 * - `onnx/embed_tokens.onnx`
 *     input_ids int64 [batch_size, sequence_length] → inputs_embeds float32 [batch_size, sequence_length, hidden]
 * - `onnx/decoder_model_merged.onnx`
 *     inputs_embeds  float32 [batch_size, sequence_length, hidden]
 *     attention_mask int64   [batch_size, total_sequence_length]
 *     position_ids   int64   [batch_size, sequence_length]
 *     past_key_values.{i}.key / .value float32 [batch_size, num_kv_heads, past_sequence_length, head_dim]
 *     → logits float32 [batch_size, sequence_length, vocab_size]
 *       present.{i}.key / .value float32 [batch_size, num_kv_heads, total_sequence_length, head_dim]
 *   Llama: RMSNorm, RoPE (rotate_half), grouped-query attention with a causal
 *   and padding mask, SwiGLU MLP. `past_sequence_length` may be 0.
 *
 * Where transformers.js 4.3 relies on these names (node_modules/@huggingface/transformers/src):
 * session_config.js:57-67 (sessions embed_tokens, decoder_model_merged, vision_encoder);
 * models/modeling_utils.js:1083-1110 (`_encode_input` picks feeds by session.inputNames;
 * encode_image reads 'image_features', encode_text reads 'inputs_embeds'), 1207-1240
 * (present.* → past_key_values.*), 1288-1320 (empty cache built from inputMetadata:
 * 'batch_size' → batch, other symbolic dims → 0), 1355-1385 (position_ids from the
 * attention_mask when declared; use_cache_branch / num_logits_to_keep only when declared),
 * 1405-1460 (vision encoder fed pixel_values with pixel_attention_mask);
 * models/llava/modeling_llava.js:11-21 (features flattened to [-1, hidden] and scattered
 * at image_token_id).
 *
 * Each session is written in fp32 and in the Hub's two quantized variants, named as
 * the HuggingFaceTB/SmolVLM-*-Instruct repositories name them (transformers.js'
 * scripts/quantize.py): `<session>_quantized.onnx` (q8) and `<session>_q4.onnx`
 * (q4); builder.ts' WeightFormat says what each stores. As there, q4 leaves the
 * Conv of the vision encoder and the Gather of embed_tokens in float32 (the
 * quantizer only rewrites MatMuls), so `embed_tokens_q4.onnx` is the fp32 graph.
 *
 * Limitation: inside a real image the `pixel_attention_mask` is assumed to be
 * all true (what the Idefics3 image processor produces for full tiles); the
 * bucketised position ids that Hugging Face uses for partially padded images
 * are not reproduced. The input is declared so that transformers.js, which
 * picks the feeds by `session.inputNames`, passes it exactly as to the
 * published SmolVLM export.
 */
import { FLOAT32_LOWEST, FP32, GraphBuilder, type WeightFormat, type WeightTensor } from './builder';
import { onnxSessionFile } from '../../src/models/onnx/dtypes';
import { idefics3Shapes } from '../../src/models/families/idefics3';
import { parseTextConfig, parseVisionConfig } from '../../src/models/families/fields';
import { Prng } from '../../src/models/prng';

export type WeightMap = Map<string, WeightTensor>;

export interface Idefics3VisionConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  image_size: number;
  patch_size: number;
  num_channels?: number;
  layer_norm_eps?: number;
  hidden_act?: string;
}

export interface Idefics3TextConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  num_hidden_layers: number;
  vocab_size: number;
  head_dim?: number;
  rms_norm_eps?: number;
  rope_theta?: number;
  rope_scaling?: { rope_type?: string; type?: string } | null;
  rope_parameters?: { rope_theta?: number; rope_type?: string } | null;
  hidden_act?: string;
  tie_word_embeddings?: boolean;
}

export interface Idefics3Config {
  vision_config: Idefics3VisionConfig;
  text_config: Idefics3TextConfig;
  scale_factor?: number;
  tie_word_embeddings?: boolean;
}

/** ONNX file name (`onnx/decoder_model_merged_q4.onnx`, …) → bytes. */
export type Idefics3Onnx = Record<string, Uint8Array>;

/** The variants written for every model: fp32 and the Hub's q8 and q4. */
export const IDEFICS3_ONNX_DTYPES = ['fp32', 'q8', 'q4'] as const;
export type Idefics3OnnxDtype = (typeof IDEFICS3_ONNX_DTYPES)[number];

/** q4's block size along K: quantize.py's default, which the Hub's SmolVLM q4 files were made with. */
export const Q4_BLOCK_SIZE = 32;

/**
 * How a session of this dtype stores its weights. For q8, quantize.py takes uint8 weights in a graph that has a
 * Conv (onnxruntime-web has no ConvInteger for int8 weights) and int8 in the others.
 */
export function sessionWeightFormat(dtype: Idefics3OnnxDtype, hasConv: boolean): WeightFormat {
  switch (dtype) {
    case 'fp32':
      return FP32;
    case 'q8':
      return { kind: 'q8', weightType: hasConv ? 'uint8' : 'int8' };
    case 'q4':
      return { kind: 'q4', blockSize: Q4_BLOCK_SIZE };
  }
}

/** Resolved dimensions of the text model (Hugging Face defaults applied). */
export interface TextDims {
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  layers: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
  act: string;
}

export function textDims(t: Idefics3TextConfig): TextDims {
  const ropeType = t.rope_scaling?.rope_type ?? t.rope_scaling?.type ?? t.rope_parameters?.rope_type ?? 'default';
  if (ropeType !== 'default') throw new Error(`rope type ${ropeType} is not supported`);
  return {
    hidden: t.hidden_size,
    intermediate: t.intermediate_size,
    heads: t.num_attention_heads,
    kvHeads: t.num_key_value_heads ?? t.num_attention_heads,
    headDim: t.head_dim ?? t.hidden_size / t.num_attention_heads,
    layers: t.num_hidden_layers,
    vocab: t.vocab_size,
    eps: t.rms_norm_eps ?? 1e-6,
    ropeTheta: t.rope_theta ?? t.rope_parameters?.rope_theta ?? 10000,
    act: t.hidden_act ?? 'silu',
  };
}

/** Resolved dimensions of the vision tower and connector. */
export interface VisionDims {
  hidden: number;
  intermediate: number;
  heads: number;
  headDim: number;
  layers: number;
  imageSize: number;
  patchSize: number;
  channels: number;
  patchesPerSide: number;
  numPatches: number;
  eps: number;
  act: string;
  scale: number;
  /** Tokens per image after the pixel shuffle. */
  imageSeqLen: number;
}

export function visionDims(config: Idefics3Config): VisionDims {
  const v = config.vision_config;
  const scale = config.scale_factor ?? 2;
  const patchesPerSide = v.image_size / v.patch_size;
  if (!Number.isInteger(patchesPerSide)) throw new Error('image_size must be a multiple of patch_size');
  if (patchesPerSide % scale !== 0) throw new Error('patches per side must be a multiple of scale_factor');
  return {
    hidden: v.hidden_size,
    intermediate: v.intermediate_size,
    heads: v.num_attention_heads,
    headDim: v.hidden_size / v.num_attention_heads,
    layers: v.num_hidden_layers,
    imageSize: v.image_size,
    patchSize: v.patch_size,
    channels: v.num_channels ?? 3,
    patchesPerSide,
    numPatches: patchesPerSide * patchesPerSide,
    eps: v.layer_norm_eps ?? 1e-6,
    act: v.hidden_act ?? 'gelu_pytorch_tanh',
    scale,
    imageSeqLen: (patchesPerSide * patchesPerSide) / (scale * scale),
  };
}

function need(weights: WeightMap, name: string, shape?: number[]): WeightTensor {
  const w = weights.get(name);
  if (!w) throw new Error(`missing weight ${name}`);
  if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))) {
    throw new Error(`weight ${name}: shape [${w.shape}] but expected [${shape}]`);
  }
  return w;
}

function optionalBias(weights: WeightMap, name: string): { name: string; t: WeightTensor } | undefined {
  const t = weights.get(name);
  return t ? { name, t } : undefined;
}

function linearW(g: GraphBuilder, weights: WeightMap, x: string, prefix: string, shape: [number, number]): string {
  return g.linear(x, `${prefix}.weight`, need(weights, `${prefix}.weight`, shape), optionalBias(weights, `${prefix}.bias`));
}

function vec(g: GraphBuilder, weights: WeightMap, name: string, n: number): string {
  return g.initFloat(name, [n], need(weights, name, [n]).data);
}

/**
 * Bidirectional multi-head self-attention (SigLIP / CLIP style) over
 * x [N, S, D]; `mask` is an optional bool tensor broadcastable to [N, H, S, S]
 * (true = attend).
 */
export function encoderSelfAttention(
  g: GraphBuilder,
  weights: WeightMap,
  x: string,
  prefix: string,
  dims: { hidden: number; heads: number; headDim: number },
  mask?: string,
): string {
  const { hidden: D, heads: H, headDim: hd } = dims;
  const q = linearW(g, weights, x, `${prefix}.q_proj`, [D, D]);
  const k = linearW(g, weights, x, `${prefix}.k_proj`, [D, D]);
  const v = linearW(g, weights, x, `${prefix}.v_proj`, [D, D]);
  const qh = g.transpose(g.reshape(q, [0, 0, H, hd]), [0, 2, 1, 3]); // [N,H,S,hd]
  const kT = g.transpose(g.reshape(k, [0, 0, H, hd]), [0, 2, 3, 1]); // [N,H,hd,S]
  const vh = g.transpose(g.reshape(v, [0, 0, H, hd]), [0, 2, 1, 3]); // [N,H,S,hd]
  let scores = g.mul(g.matmul(qh, kT), g.constFloat(Math.pow(hd, -0.5)));
  if (mask) scores = g.op('Where', [mask, scores, g.constFloat(FLOAT32_LOWEST)]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const ctx = g.reshape(g.transpose(g.matmul(probs, vh), [0, 2, 1, 3]), [0, 0, D]);
  return linearW(g, weights, ctx, `${prefix}.out_proj`, [D, D]);
}

/** A pre-LayerNorm encoder block (SigLIP, CLIP): attention and a 2-layer MLP. */
export function encoderBlock(
  g: GraphBuilder,
  weights: WeightMap,
  x: string,
  prefix: string,
  dims: { hidden: number; heads: number; headDim: number; intermediate: number; eps: number; act: string },
  mask?: string,
): string {
  const D = dims.hidden;
  const ln1 = g.layerNorm(x, vec(g, weights, `${prefix}.layer_norm1.weight`, D), vec(g, weights, `${prefix}.layer_norm1.bias`, D), dims.eps);
  const h = g.add(x, encoderSelfAttention(g, weights, ln1, `${prefix}.self_attn`, dims, mask));
  const ln2 = g.layerNorm(h, vec(g, weights, `${prefix}.layer_norm2.weight`, D), vec(g, weights, `${prefix}.layer_norm2.bias`, D), dims.eps);
  const f1 = linearW(g, weights, ln2, `${prefix}.mlp.fc1`, [dims.intermediate, D]);
  const f2 = linearW(g, weights, g.activation(f1, dims.act), `${prefix}.mlp.fc2`, [D, dims.intermediate]);
  return g.add(h, f2);
}

function buildVisionEncoder(config: Idefics3Config, weights: WeightMap, format: WeightFormat): Uint8Array {
  const vd = visionDims(config);
  const Dt = config.text_config.hidden_size;
  const { imageSize: S, patchSize: P, channels: C, hidden: D } = vd;
  const g = new GraphBuilder('idefics3_vision_encoder', format);
  const pv = g.input('pixel_values', 'float32', ['batch_size', 'num_images', C, 'height', 'width']);
  g.input('pixel_attention_mask', 'bool', ['batch_size', 'num_images', 'height', 'width']);

  // [B, N, C, H, W] → [B*N, C, S, S]
  const images = g.reshape(pv, [-1, C, S, S]);

  // Padding images (every value exactly 0.0) are dropped; keep the first if all are padding.
  const zeros = g.op('ReduceSum', [g.cast(g.op('Equal', [images, g.constFloat(0)]), 'int64'), g.constInt64([1, 2, 3])], {
    keepdims: 0,
  });
  let real = g.op('Not', [g.op('Equal', [zeros, g.constInt64(C * S * S)])]); // [B*N] bool
  const anyReal = g.op('Greater', [g.op('ReduceSum', [g.cast(real, 'int64')], { keepdims: 0 }), g.constInt64(0)]);
  const idx = g.op('Range', [g.constInt64(0), g.dimScalar(images, 0), g.constInt64(1)]);
  const firstOnly = g.op('And', [g.op('Equal', [idx, g.constInt64(0)]), g.op('Not', [anyReal])]);
  real = g.op('Or', [real, firstOnly]);
  const kept = g.op('Compress', [images, real], { axis: 0 }); // [M, C, S, S]

  // Patch embedding + position embedding.
  const patches = g.conv(
    kept,
    'model.vision_model.embeddings.patch_embedding.weight',
    need(weights, 'model.vision_model.embeddings.patch_embedding.weight', [D, C, P, P]),
    'model.vision_model.embeddings.patch_embedding.bias',
    need(weights, 'model.vision_model.embeddings.patch_embedding.bias', [D]).data,
    { kernel_shape: [P, P], strides: [P, P] },
  ); // [M, D, S/P, S/P]
  const seq = g.transpose(g.reshape(patches, [0, D, -1]), [0, 2, 1]); // [M, np, D]
  const pos = g.initFloat(
    'model.vision_model.embeddings.position_embedding.weight',
    [vd.numPatches, D],
    need(weights, 'model.vision_model.embeddings.position_embedding.weight', [vd.numPatches, D]).data,
  );
  let h = g.add(seq, pos);

  for (let i = 0; i < vd.layers; i++) {
    h = encoderBlock(g, weights, h, `model.vision_model.encoder.layers.${i}`, vd);
  }
  h = g.layerNorm(
    h,
    vec(g, weights, 'model.vision_model.post_layernorm.weight', D),
    vec(g, weights, 'model.vision_model.post_layernorm.bias', D),
    vd.eps,
  );

  // Idefics3Connector.pixel_shuffle, then the bias-free modality projection.
  const s = vd.scale;
  const side = vd.patchesPerSide;
  let x = g.reshape(h, [0, side, side / s, D * s]);
  x = g.transpose(x, [0, 2, 1, 3]);
  x = g.reshape(x, [0, side / s, side / s, D * s * s]);
  x = g.transpose(x, [0, 2, 1, 3]);
  x = g.reshape(x, [0, vd.imageSeqLen, D * s * s]);
  const feats = linearW(g, weights, x, 'model.connector.modality_projection.proj', [Dt, D * s * s]);
  g.output(feats, 'image_features', 'float32', ['num_real_images', vd.imageSeqLen, Dt]);
  return g.build({ docString: 'Idefics3 vision encoder (SigLIP + pixel-shuffle connector)' });
}

function buildEmbedTokens(config: Idefics3Config, weights: WeightMap, format: WeightFormat): Uint8Array {
  const td = textDims(config.text_config);
  const g = new GraphBuilder('idefics3_embed_tokens', format);
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const table = need(weights, 'model.text_model.embed_tokens.weight', [td.vocab, td.hidden]);
  g.output(g.gatherRows('model.text_model.embed_tokens.weight', table, ids), 'inputs_embeds', 'float32', ['batch_size', 'sequence_length', td.hidden]);
  return g.build({ docString: 'Idefics3 token embeddings' });
}

/** Hugging Face Llama `inv_freq`: 1 / theta^(2i/d), i < d/2. */
export function ropeInvFreq(headDim: number, theta: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < headDim / 2; i++) out[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  return out;
}

function buildDecoder(config: Idefics3Config, weights: WeightMap, format: WeightFormat): Uint8Array {
  const td = textDims(config.text_config);
  const { hidden: D, heads: H, kvHeads: KV, headDim: hd, intermediate: I } = td;
  if (H % KV !== 0) throw new Error('num_attention_heads must be a multiple of num_key_value_heads');
  const g = new GraphBuilder('idefics3_decoder_model_merged', format);
  const embeds = g.input('inputs_embeds', 'float32', ['batch_size', 'sequence_length', D]);
  const attnMask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const pastK: string[] = [];
  const pastV: string[] = [];
  for (let i = 0; i < td.layers; i++) {
    pastK.push(g.input(`past_key_values.${i}.key`, 'float32', ['batch_size', KV, 'past_sequence_length', hd]));
    pastV.push(g.input(`past_key_values.${i}.value`, 'float32', ['batch_size', KV, 'past_sequence_length', hd]));
  }

  // RoPE tables: cos/sin [B, 1, T, hd].
  const invFreq = g.initFloat('rotary_emb.inv_freq', [hd / 2], ropeInvFreq(hd, td.ropeTheta));
  const freqs = g.mul(g.unsqueeze(g.cast(positionIds, 'float32'), [2]), invFreq); // [B,T,hd/2]
  const emb = g.concat([freqs, freqs], -1);
  const cos = g.unsqueeze(g.op('Cos', [emb]), [1]);
  const sin = g.unsqueeze(g.op('Sin', [emb]), [1]);
  const halves = g.constInt64([hd / 2, hd / 2]);
  const rope = (x: string): string => {
    const [x1, x2] = g.opN('Split', [x, halves], { axis: -1 }, 2);
    const rotated = g.concat([g.op('Neg', [x2]), x1], -1);
    return g.add(g.mul(x, cos), g.mul(rotated, sin));
  };

  // Mask [B, 1, T, L]: key j is visible to query i iff attention_mask[b, j] != 0 and j <= (L - T) + i.
  const L = g.dimScalar(attnMask, 1);
  const T = g.dimScalar(embeds, 1);
  const keyPos = g.unsqueeze(g.op('Range', [g.constInt64(0), L, g.constInt64(1)]), [0]); // [1, L]
  const queryPos = g.unsqueeze(g.add(g.op('Range', [g.constInt64(0), T, g.constInt64(1)]), g.sub(L, T)), [1]); // [T, 1]
  const causal = g.op('LessOrEqual', [keyPos, queryPos]); // [T, L]
  const padding = g.unsqueeze(g.cast(attnMask, 'bool'), [1, 2]); // [B,1,1,L]
  const visible = g.op('And', [causal, padding]); // [B,1,T,L]
  const lowest = g.constFloat(FLOAT32_LOWEST);
  const scale = g.constFloat(Math.pow(hd, -0.5));

  let h = embeds;
  for (let i = 0; i < td.layers; i++) {
    const p = `model.text_model.layers.${i}`;
    const x = g.rmsNorm(h, vec(g, weights, `${p}.input_layernorm.weight`, D), td.eps);
    const q = linearW(g, weights, x, `${p}.self_attn.q_proj`, [H * hd, D]);
    const k = linearW(g, weights, x, `${p}.self_attn.k_proj`, [KV * hd, D]);
    const v = linearW(g, weights, x, `${p}.self_attn.v_proj`, [KV * hd, D]);
    const qh = rope(g.transpose(g.reshape(q, [0, 0, H, hd]), [0, 2, 1, 3])); // [B,H,T,hd]
    const kh = rope(g.transpose(g.reshape(k, [0, 0, KV, hd]), [0, 2, 1, 3])); // [B,KV,T,hd]
    const vh = g.transpose(g.reshape(v, [0, 0, KV, hd]), [0, 2, 1, 3]);
    const presentK = g.output(g.concat([pastK[i], kh], 2), `present.${i}.key`, 'float32', [
      'batch_size',
      KV,
      'total_sequence_length',
      hd,
    ]);
    const presentV = g.output(g.concat([pastV[i], vh], 2), `present.${i}.value`, 'float32', [
      'batch_size',
      KV,
      'total_sequence_length',
      hd,
    ]);
    // Grouped-query attention: head h uses kv head floor(h / (H / KV)); query heads of a
    // group are contiguous, so [B,H,T,hd] → [B,KV,(H/KV)*T,hd] lines them up with their kv head.
    const qg = g.reshape(qh, [0, KV, -1, hd]);
    const scoresG = g.matmul(qg, g.transpose(presentK, [0, 1, 3, 2])); // [B,KV,rep*T,L]
    let scores = g.mul(g.reshape(scoresG, [0, H, -1, 0]), scale); // [B,H,T,L]
    scores = g.op('Where', [visible, scores, lowest]);
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const ctxG = g.matmul(g.reshape(probs, [0, KV, -1, 0]), presentV); // [B,KV,rep*T,hd]
    const ctx = g.reshape(g.transpose(g.reshape(ctxG, [0, H, -1, hd]), [0, 2, 1, 3]), [0, 0, H * hd]);
    h = g.add(h, linearW(g, weights, ctx, `${p}.self_attn.o_proj`, [D, H * hd]));

    const y = g.rmsNorm(h, vec(g, weights, `${p}.post_attention_layernorm.weight`, D), td.eps);
    const gate = linearW(g, weights, y, `${p}.mlp.gate_proj`, [I, D]);
    const up = linearW(g, weights, y, `${p}.mlp.up_proj`, [I, D]);
    h = g.add(h, linearW(g, weights, g.mul(g.activation(gate, td.act), up), `${p}.mlp.down_proj`, [D, I]));
  }
  h = g.rmsNorm(h, vec(g, weights, 'model.text_model.norm.weight', D), td.eps);
  const head = weights.has('lm_head.weight')
    ? need(weights, 'lm_head.weight', [td.vocab, D])
    : need(weights, 'model.text_model.embed_tokens.weight', [td.vocab, D]); // tied embeddings
  const logits = g.linear(h, 'lm_head.weight', head);
  g.output(logits, 'logits', 'float32', ['batch_size', 'sequence_length', td.vocab]);
  const presents: string[] = [];
  for (let i = 0; i < td.layers; i++) presents.push(`present.${i}.key`, `present.${i}.value`);
  g.orderOutputs(['logits', ...presents]);
  return g.build({ docString: 'Idefics3 text decoder (Llama) with key/value cache' });
}

/**
 * Builds the ONNX files of an Idefics3/SmolVLM model from its Hugging Face config and weights (exact checkpoint
 * names; Linear weights are [out, in]): the three sessions in each of `dtypes` (default fp32, q8 and q4), session
 * by session, under the Hub's file names.
 */
export function buildIdefics3Onnx(
  config: Idefics3Config,
  weights: WeightMap,
  dtypes: readonly Idefics3OnnxDtype[] = IDEFICS3_ONNX_DTYPES,
): Idefics3Onnx {
  const sessions = [
    { name: 'vision_encoder', hasConv: true, build: buildVisionEncoder },
    { name: 'embed_tokens', hasConv: false, build: buildEmbedTokens },
    { name: 'decoder_model_merged', hasConv: false, build: buildDecoder },
  ];
  const files: Idefics3Onnx = {};
  for (const s of sessions) {
    for (const dtype of dtypes) files[onnxSessionFile(s.name, dtype)] = s.build(config, weights, sessionWeightFormat(dtype, s.hasConv));
  }
  return files;
}

/** The Hugging Face weight names and shapes of an Idefics3 checkpoint with this config (the family's, src/models/families). */
export function idefics3WeightShapes(config: Idefics3Config): Map<string, number[]> {
  const tied = config.tie_word_embeddings ?? false;
  const text = parseTextConfig({ ...config.text_config }, 'text_config', tied);
  return idefics3Shapes(parseVisionConfig({ ...config.vision_config }), text, config.scale_factor ?? 2);
}

/**
 * Random weights for `config` from a seed: normal(0, std) matrices and
 * embeddings, norm weights near 1 and small biases, so that every parameter
 * influences the output.
 */
export function randomIdefics3Weights(config: Idefics3Config, seed: number, std = 0.1): WeightMap {
  const rng = new Prng(seed);
  const out: WeightMap = new Map();
  for (const [name, shape] of idefics3WeightShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm/.test(name) && name.endsWith('.weight');
    const data = isNorm ? rng.normals(n, 0.1, 1) : rng.normals(n, name.endsWith('.bias') ? 0.05 : std);
    out.set(name, { shape, data });
  }
  return out;
}
