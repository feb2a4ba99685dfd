/**
 * Plain-JS float64 reference forwards of the Hugging Face algorithms (SigLIP +
 * Idefics3 connector, Llama, CLIP), written as straightforward loops and
 * independent of the ONNX graphs they check.
 */
import type { WeightTensor } from '../../scripts/onnx/builder';
import { idefics3Family } from '../../src/models/families/idefics3';

export type Weights = Map<string, WeightTensor>;

const LOWEST = -3.4028234663852886e38;

function w(weights: Weights, name: string): Float32Array {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

/** rows [n, inDim] times W^T (W [outDim, inDim]) plus bias. */
export function linear(x: Float64Array, n: number, inDim: number, W: Float32Array, outDim: number, bias?: Float32Array): Float64Array {
  const out = new Float64Array(n * outDim);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * W[o * inDim + i];
      out[r * outDim + o] = s;
    }
  }
  return out;
}

export function layerNorm(x: Float64Array, n: number, d: number, g: Float32Array, b: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let r = 0; r < n; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i];
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - mean) ** 2;
    v /= d;
    const inv = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < d; i++) out[r * d + i] = (x[r * d + i] - mean) * inv * g[i] + b[i];
  }
  return out;
}

export function rmsNorm(x: Float64Array, n: number, d: number, g: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let r = 0; r < n; r++) {
    let ms = 0;
    for (let i = 0; i < d; i++) ms += x[r * d + i] ** 2;
    const inv = 1 / Math.sqrt(ms / d + eps);
    for (let i = 0; i < d; i++) out[r * d + i] = x[r * d + i] * inv * g[i];
  }
  return out;
}

export function act(x: number, name: string): number {
  switch (name) {
    case 'quick_gelu':
      return x / (1 + Math.exp(-1.702 * x));
    case 'gelu_pytorch_tanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'silu':
      return x / (1 + Math.exp(-x));
    default:
      throw new Error(`reference: activation ${name}`);
  }
}

/**
 * Softmax attention of one head: q [Tq, hd], k/v [Tk, hd]; `allowed(i, j)`
 * masks keys (a query with no visible key attends uniformly, as a
 * `finfo.min`-filled row does in PyTorch).
 */
function attendHead(
  q: (i: number, e: number) => number,
  k: (j: number, e: number) => number,
  v: (j: number, e: number) => number,
  Tq: number,
  Tk: number,
  hd: number,
  allowed: (i: number, j: number) => boolean,
  write: (i: number, e: number, val: number) => void,
): void {
  const scale = 1 / Math.sqrt(hd);
  const s = new Float64Array(Tk);
  for (let i = 0; i < Tq; i++) {
    let max = -Infinity;
    for (let j = 0; j < Tk; j++) {
      let dot = 0;
      for (let e = 0; e < hd; e++) dot += q(i, e) * k(j, e);
      s[j] = allowed(i, j) ? dot * scale : LOWEST;
      if (s[j] > max) max = s[j];
    }
    let sum = 0;
    for (let j = 0; j < Tk; j++) {
      s[j] = Math.exp(s[j] - max);
      sum += s[j];
    }
    for (let e = 0; e < hd; e++) {
      let acc = 0;
      for (let j = 0; j < Tk; j++) acc += (s[j] / sum) * v(j, e);
      write(i, e, acc);
    }
  }
}

interface EncoderDims {
  hidden: number;
  heads: number;
  intermediate: number;
  eps: number;
  act: string;
}

/** One pre-LN encoder block (SigLIP / CLIP) on a single sequence x [S, D]. */
function encoderBlockRef(weights: Weights, p: string, x: Float64Array, S: number, d: EncoderDims, allowed: (i: number, j: number) => boolean): Float64Array {
  const D = d.hidden;
  const hd = D / d.heads;
  const ln1 = layerNorm(x, S, D, w(weights, `${p}.layer_norm1.weight`), w(weights, `${p}.layer_norm1.bias`), d.eps);
  const lin = (name: string, inp: Float64Array, n: number, i: number, o: number): Float64Array =>
    linear(inp, n, i, w(weights, `${name}.weight`), o, w(weights, `${name}.bias`));
  const q = lin(`${p}.self_attn.q_proj`, ln1, S, D, D);
  const k = lin(`${p}.self_attn.k_proj`, ln1, S, D, D);
  const v = lin(`${p}.self_attn.v_proj`, ln1, S, D, D);
  const ctx = new Float64Array(S * D);
  for (let h = 0; h < d.heads; h++) {
    attendHead(
      (i, e) => q[i * D + h * hd + e],
      (j, e) => k[j * D + h * hd + e],
      (j, e) => v[j * D + h * hd + e],
      S,
      S,
      hd,
      allowed,
      (i, e, val) => (ctx[i * D + h * hd + e] = val),
    );
  }
  const attnOut = lin(`${p}.self_attn.out_proj`, ctx, S, D, D);
  const h1 = x.map((val, i) => val + attnOut[i]);
  const ln2 = layerNorm(h1, S, D, w(weights, `${p}.layer_norm2.weight`), w(weights, `${p}.layer_norm2.bias`), d.eps);
  const f1 = lin(`${p}.mlp.fc1`, ln2, S, D, d.intermediate).map((val) => act(val, d.act));
  const f2 = lin(`${p}.mlp.fc2`, f1, S, d.intermediate, D);
  return h1.map((val, i) => val + f2[i]);
}

/** Conv2d with kernel = stride = P on one image [C, H, W]: patches [np, D] in row-major patch order. */
function patchEmbed(img: Float32Array, C: number, S: number, P: number, W: Float32Array, D: number, bias?: Float32Array): Float64Array {
  const side = S / P;
  const out = new Float64Array(side * side * D);
  for (let py = 0; py < side; py++) {
    for (let px = 0; px < side; px++) {
      for (let d = 0; d < D; d++) {
        let s = bias ? bias[d] : 0;
        for (let c = 0; c < C; c++) {
          for (let ky = 0; ky < P; ky++) {
            for (let kx = 0; kx < P; kx++) {
              s += W[((d * C + c) * P + ky) * P + kx] * img[(c * S + py * P + ky) * S + px * P + kx];
            }
          }
        }
        out[(py * side + px) * D + d] = s;
      }
    }
  }
  return out;
}

export interface Idefics3RefConfig {
  scale_factor?: number;
  vision_config: {
    hidden_size: number;
    intermediate_size: number;
    num_attention_heads: number;
    num_hidden_layers: number;
    image_size: number;
    patch_size: number;
    layer_norm_eps?: number;
    hidden_act?: string;
  };
  text_config: {
    hidden_size: number;
    intermediate_size: number;
    num_attention_heads: number;
    num_key_value_heads?: number;
    num_hidden_layers: number;
    vocab_size: number;
    rms_norm_eps?: number;
    rope_theta?: number;
  };
}

/**
 * Idefics3 image features for pixel_values [B, N, 3, S, S]: drops all-zero
 * images (keeping the first if none is real), runs SigLIP, pixel-shuffles and
 * projects. Returns the features of each kept image, [imageSeqLen * Dt] each.
 */
export function idefics3ImageFeaturesRef(config: Idefics3RefConfig, weights: Weights, pixelValues: Float32Array, numImagesTotal: number): Float64Array[] {
  const vc = config.vision_config;
  const S = vc.image_size;
  const P = vc.patch_size;
  const D = vc.hidden_size;
  const side = S / P;
  const np = side * side;
  const s = config.scale_factor ?? 2;
  const Dt = config.text_config.hidden_size;
  const per = 3 * S * S;
  const dims: EncoderDims = {
    hidden: D,
    heads: vc.num_attention_heads,
    intermediate: vc.intermediate_size,
    eps: vc.layer_norm_eps ?? 1e-6,
    act: vc.hidden_act ?? 'gelu_pytorch_tanh',
  };
  let keep: number[] = [];
  for (let n = 0; n < numImagesTotal; n++) {
    const img = pixelValues.subarray(n * per, (n + 1) * per);
    if (img.some((val) => val !== 0)) keep.push(n);
  }
  if (keep.length === 0) keep = [0];

  const results: Float64Array[] = [];
  for (const n of keep) {
    const img = pixelValues.subarray(n * per, (n + 1) * per);
    let x = patchEmbed(img, 3, S, P, w(weights, 'model.vision_model.embeddings.patch_embedding.weight'), D, w(weights, 'model.vision_model.embeddings.patch_embedding.bias'));
    const pos = w(weights, 'model.vision_model.embeddings.position_embedding.weight');
    x = x.map((val, i) => val + pos[i]);
    for (let l = 0; l < vc.num_hidden_layers; l++) {
      x = encoderBlockRef(weights, `model.vision_model.encoder.layers.${l}`, x, np, dims, () => true);
    }
    x = layerNorm(x, np, D, w(weights, 'model.vision_model.post_layernorm.weight'), w(weights, 'model.vision_model.post_layernorm.bias'), dims.eps);

    // Pixel shuffle: output token (i2, j2) holds, at channel block (a, b), the patch (i2*s + a, j2*s + b).
    const outSide = side / s;
    const E = D * s * s;
    const shuffled = new Float64Array(outSide * outSide * E);
    for (let i2 = 0; i2 < outSide; i2++) {
      for (let j2 = 0; j2 < outSide; j2++) {
        for (let a = 0; a < s; a++) {
          for (let b = 0; b < s; b++) {
            for (let d = 0; d < D; d++) {
              const src = ((i2 * s + a) * side + (j2 * s + b)) * D + d;
              shuffled[(i2 * outSide + j2) * E + a * D * s + b * D + d] = x[src];
            }
          }
        }
      }
    }
    results.push(linear(shuffled, outSide * outSide, E, w(weights, 'model.connector.modality_projection.proj.weight'), Dt));
  }
  return results;
}

export interface LlamaRefOutput {
  /** [B, T, V] */
  logits: Float64Array;
  /** per layer, [B, KV, T, hd] (RoPE applied to keys) */
  keys: Float64Array[];
  values: Float64Array[];
}

/**
 * Llama forward on a whole sequence (no cache): embeds [B, T, D],
 * attentionMask [B, T] (0/1), positionIds [B, T].
 */
export function llamaRef(config: Idefics3RefConfig, weights: Weights, embeds: Float64Array, B: number, T: number, attentionMask: number[], positionIds: number[]): LlamaRefOutput {
  const tc = config.text_config;
  const D = tc.hidden_size;
  const H = tc.num_attention_heads;
  const KV = tc.num_key_value_heads ?? H;
  const hd = D / H;
  const I = tc.intermediate_size;
  const V = tc.vocab_size;
  const eps = tc.rms_norm_eps ?? 1e-6;
  const theta = tc.rope_theta ?? 10000;
  const rep = H / KV;
  const n = B * T;

  // cos/sin per (b, t, e) from the position ids; emb = cat(freqs, freqs).
  const cos = new Float64Array(n * hd);
  const sin = new Float64Array(n * hd);
  for (let r = 0; r < n; r++) {
    for (let e = 0; e < hd; e++) {
      const i = e % (hd / 2);
      const invFreq = 1 / Math.pow(theta, (2 * i) / hd);
      cos[r * hd + e] = Math.cos(positionIds[r] * invFreq);
      sin[r * hd + e] = Math.sin(positionIds[r] * invFreq);
    }
  }
  // In-place RoPE on rows [n, heads*hd].
  const rope = (x: Float64Array, heads: number): void => {
    const half = hd / 2;
    for (let r = 0; r < n; r++) {
      for (let h = 0; h < heads; h++) {
        const base = r * heads * hd + h * hd;
        const orig = x.slice(base, base + hd);
        for (let e = 0; e < hd; e++) {
          const rot = e < half ? -orig[e + half] : orig[e - half];
          x[base + e] = orig[e] * cos[r * hd + e] + rot * sin[r * hd + e];
        }
      }
    }
  };

  let h: Float64Array = Float64Array.from(embeds);
  const keys: Float64Array[] = [];
  const values: Float64Array[] = [];
  for (let l = 0; l < tc.num_hidden_layers; l++) {
    const p = `${idefics3Family.textPrefix}layers.${l}`;
    const x = rmsNorm(h, n, D, w(weights, `${p}.input_layernorm.weight`), eps);
    const q = linear(x, n, D, w(weights, `${p}.self_attn.q_proj.weight`), H * hd);
    const k = linear(x, n, D, w(weights, `${p}.self_attn.k_proj.weight`), KV * hd);
    const v = linear(x, n, D, w(weights, `${p}.self_attn.v_proj.weight`), KV * hd);
    rope(q, H);
    rope(k, KV);
    const kOut = new Float64Array(B * KV * T * hd);
    const vOut = new Float64Array(B * KV * T * hd);
    for (let b = 0; b < B; b++) {
      for (let g = 0; g < KV; g++) {
        for (let t = 0; t < T; t++) {
          for (let e = 0; e < hd; e++) {
            kOut[((b * KV + g) * T + t) * hd + e] = k[(b * T + t) * KV * hd + g * hd + e];
            vOut[((b * KV + g) * T + t) * hd + e] = v[(b * T + t) * KV * hd + g * hd + e];
          }
        }
      }
    }
    keys.push(kOut);
    values.push(vOut);
    const ctx = new Float64Array(n * H * hd);
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < H; head++) {
        const g = Math.floor(head / rep);
        attendHead(
          (i, e) => q[(b * T + i) * H * hd + head * hd + e],
          (j, e) => k[(b * T + j) * KV * hd + g * hd + e],
          (j, e) => v[(b * T + j) * KV * hd + g * hd + e],
          T,
          T,
          hd,
          (i, j) => j <= i && attentionMask[b * T + j] !== 0,
          (i, e, val) => (ctx[(b * T + i) * H * hd + head * hd + e] = val),
        );
      }
    }
    const o = linear(ctx, n, H * hd, w(weights, `${p}.self_attn.o_proj.weight`), D);
    h = h.map((val, i) => val + o[i]);
    const y = rmsNorm(h, n, D, w(weights, `${p}.post_attention_layernorm.weight`), eps);
    const gate = linear(y, n, D, w(weights, `${p}.mlp.gate_proj.weight`), I);
    const up = linear(y, n, D, w(weights, `${p}.mlp.up_proj.weight`), I);
    const mid = gate.map((val, i) => act(val, 'silu') * up[i]);
    const down = linear(mid, n, I, w(weights, `${p}.mlp.down_proj.weight`), D);
    h = h.map((val, i) => val + down[i]);
  }
  h = rmsNorm(h, n, D, w(weights, `${idefics3Family.textPrefix}norm.weight`), eps);
  const head = weights.has('lm_head.weight') ? w(weights, 'lm_head.weight') : w(weights, `${idefics3Family.textPrefix}embed_tokens.weight`);
  return { logits: linear(h, n, D, head, V), keys, values };
}

export interface ClipRefConfig {
  projection_dim: number;
  text_config: {
    hidden_size: number;
    intermediate_size: number;
    num_attention_heads: number;
    num_hidden_layers: number;
    layer_norm_eps?: number;
    hidden_act?: string;
    eos_token_id?: number;
  };
  vision_config: {
    hidden_size: number;
    intermediate_size: number;
    num_attention_heads: number;
    num_hidden_layers: number;
    image_size: number;
    patch_size: number;
    layer_norm_eps?: number;
    hidden_act?: string;
  };
}

/** CLIP text tower on one sequence: text_embeds [P] and last_hidden_state [T, D]. */
export function clipTextRef(config: ClipRefConfig, weights: Weights, ids: number[]): { textEmbeds: Float64Array; lastHidden: Float64Array } {
  const tc = config.text_config;
  const D = tc.hidden_size;
  const T = ids.length;
  const tok = w(weights, 'text_model.embeddings.token_embedding.weight');
  const pos = w(weights, 'text_model.embeddings.position_embedding.weight');
  let x: Float64Array = new Float64Array(T * D);
  for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) x[t * D + d] = tok[ids[t] * D + d] + pos[t * D + d];
  const dims: EncoderDims = {
    hidden: D,
    heads: tc.num_attention_heads,
    intermediate: tc.intermediate_size,
    eps: tc.layer_norm_eps ?? 1e-5,
    act: tc.hidden_act ?? 'quick_gelu',
  };
  for (let l = 0; l < tc.num_hidden_layers; l++) x = encoderBlockRef(weights, `text_model.encoder.layers.${l}`, x, T, dims, (i, j) => j <= i);
  x = layerNorm(x, T, D, w(weights, 'text_model.final_layer_norm.weight'), w(weights, 'text_model.final_layer_norm.bias'), dims.eps);
  // HF: eos_token_id == 2 (legacy) → argmax(input_ids); else first index of eos_token_id. torch.argmax picks the first maximum.
  let idx = 0;
  if (tc.eos_token_id === 2 || tc.eos_token_id === undefined) {
    for (let t = 1; t < T; t++) if (ids[t] > ids[idx]) idx = t;
  } else {
    const first = ids.indexOf(tc.eos_token_id);
    idx = first < 0 ? 0 : first;
  }
  const pooled = x.slice(idx * D, (idx + 1) * D);
  return { textEmbeds: linear(pooled, 1, D, w(weights, 'text_projection.weight'), config.projection_dim), lastHidden: x };
}

/** CLIP vision tower on one image [3, S, S]: image_embeds [P] and last_hidden_state [np + 1, D]. */
export function clipVisionRef(config: ClipRefConfig, weights: Weights, img: Float32Array): { imageEmbeds: Float64Array; lastHidden: Float64Array } {
  const vc = config.vision_config;
  const D = vc.hidden_size;
  const S = vc.image_size;
  const P = vc.patch_size;
  const np = (S / P) ** 2;
  const patches = patchEmbed(img, 3, S, P, w(weights, 'vision_model.embeddings.patch_embedding.weight'), D);
  const cls = w(weights, 'vision_model.embeddings.class_embedding');
  const pos = w(weights, 'vision_model.embeddings.position_embedding.weight');
  const L = np + 1;
  let x: Float64Array = new Float64Array(L * D);
  for (let d = 0; d < D; d++) x[d] = cls[d] + pos[d];
  for (let t = 1; t < L; t++) for (let d = 0; d < D; d++) x[t * D + d] = patches[(t - 1) * D + d] + pos[t * D + d];
  const dims: EncoderDims = {
    hidden: D,
    heads: vc.num_attention_heads,
    intermediate: vc.intermediate_size,
    eps: vc.layer_norm_eps ?? 1e-5,
    act: vc.hidden_act ?? 'quick_gelu',
  };
  x = layerNorm(x, L, D, w(weights, 'vision_model.pre_layrnorm.weight'), w(weights, 'vision_model.pre_layrnorm.bias'), dims.eps);
  for (let l = 0; l < vc.num_hidden_layers; l++) x = encoderBlockRef(weights, `vision_model.encoder.layers.${l}`, x, L, dims, () => true);
  const pooled = layerNorm(x.slice(0, D), 1, D, w(weights, 'vision_model.post_layernorm.weight'), w(weights, 'vision_model.post_layernorm.bias'), dims.eps);
  return { imageEmbeds: linear(pooled, 1, D, w(weights, 'visual_projection.weight'), config.projection_dim), lastHidden: x };
}

/** Largest absolute difference between two equally long arrays (throws on length mismatch). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
