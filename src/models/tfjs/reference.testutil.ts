/**
 * Plain-JS reference forwards (no TF.js), written straight from the Hugging Face
 * formulas with explicit loops, used by the tests as an independent check.
 * Float64 throughout; slow; for tiny models only.
 */
import type { Idefics3Config, TextConfig, VisionConfig } from '../config';
import { idefics3Family } from '../families/idefics3';
import type { WeightMap } from './weightReader';

type Vec = Float64Array;

function w(map: WeightMap, name: string): Float32Array {
  const t = map.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

/** y = W x (+ b), W [out, in] row-major */
function linear(W: Float32Array, x: Vec, out: number, b?: Float32Array): Vec {
  const inF = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inF; i++) s += W[o * inF + i] * x[i];
    y[o] = s;
  }
  return y;
}

function add(a: Vec, b: Vec): Vec {
  return a.map((v, i) => v + b[i]);
}

export function refRmsNorm(x: Vec, weight: Float32Array, eps: number): Vec {
  let ms = 0;
  for (const v of x) ms += v * v;
  ms /= x.length;
  const r = 1 / Math.sqrt(ms + eps);
  return x.map((v, i) => v * r * weight[i]);
}

function layerNorm(x: Vec, weight: Float32Array, bias: Float32Array, eps: number): Vec {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let varr = 0;
  for (const v of x) varr += (v - mean) ** 2;
  varr /= x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(varr + eps)) * weight[i] + bias[i]);
}

function softmaxInPlace(s: number[]): number[] {
  const m = Math.max(...s);
  const e = s.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** HF rotary: q·cos + rotate_half(q)·sin with emb = cat(freqs, freqs), freqs_i = pos·θ^(−2i/d). */
export function refRope(x: ArrayLike<number>, pos: number, theta: number): Vec {
  const d = x.length;
  const half = d / 2;
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const i = j % half;
    const angle = pos * Math.pow(theta, (-2 * i) / d);
    const rot = j < half ? -x[j + half] : x[j - half];
    out[j] = x[j] * Math.cos(angle) + rot * Math.sin(angle);
  }
  return out;
}

/**
 * Llama decoder on given input embeddings (one sequence, no padding): logits [T][V].
 * `prefix` is the family's `textPrefix`.
 */
export function refLlamaFromEmbeds(cfg: TextConfig, map: WeightMap, prefix: string, embeds: Vec[]): Vec[] {
  const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: hd, intermediateSize: F, vocabSize: V } = cfg;
  const T = embeds.length;
  let h: Vec[] = embeds.map((e) => Float64Array.from(e));
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `${prefix}layers.${l}.`;
    const xs = h.map((x) => refRmsNorm(x, w(map, `${p}input_layernorm.weight`), cfg.rmsNormEps));
    const q = xs.map((x) => linear(w(map, `${p}self_attn.q_proj.weight`), x, H * hd));
    const k = xs.map((x) => linear(w(map, `${p}self_attn.k_proj.weight`), x, KV * hd));
    const v = xs.map((x) => linear(w(map, `${p}self_attn.v_proj.weight`), x, KV * hd));
    const qr = q.map((row, t) => {
      const out = new Float64Array(H * hd);
      for (let hh = 0; hh < H; hh++) out.set(refRope(row.subarray(hh * hd, (hh + 1) * hd), t, cfg.ropeTheta), hh * hd);
      return out;
    });
    const kr = k.map((row, t) => {
      const out = new Float64Array(KV * hd);
      for (let hh = 0; hh < KV; hh++) out.set(refRope(row.subarray(hh * hd, (hh + 1) * hd), t, cfg.ropeTheta), hh * hd);
      return out;
    });
    const ctx = Array.from({ length: T }, () => new Float64Array(H * hd));
    for (let hh = 0; hh < H; hh++) {
      const g = Math.floor(hh / (H / KV)); // repeat_kv: head hh reads kv head ⌊hh / n_rep⌋
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let j = 0; j < hd; j++) dot += qr[t][hh * hd + j] * kr[s][g * hd + j];
          scores.push(dot / Math.sqrt(hd));
        }
        const pr = softmaxInPlace(scores);
        for (let s = 0; s <= t; s++) for (let j = 0; j < hd; j++) ctx[t][hh * hd + j] += pr[s] * v[s][g * hd + j];
      }
    }
    h = h.map((x, t) => add(x, linear(w(map, `${p}self_attn.o_proj.weight`), ctx[t], D)));
    h = h.map((x) => {
      const n = refRmsNorm(x, w(map, `${p}post_attention_layernorm.weight`), cfg.rmsNormEps);
      const gate = linear(w(map, `${p}mlp.gate_proj.weight`), n, F);
      const up = linear(w(map, `${p}mlp.up_proj.weight`), n, F);
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]);
      return add(x, linear(w(map, `${p}mlp.down_proj.weight`), act, D));
    });
  }
  const head = cfg.tieWordEmbeddings ? w(map, `${prefix}embed_tokens.weight`) : w(map, 'lm_head.weight');
  return h.map((x) => linear(head, refRmsNorm(x, w(map, `${prefix}norm.weight`), cfg.rmsNormEps), V));
}

export function refEmbed(cfg: TextConfig, map: WeightMap, prefix: string, ids: number[]): Vec[] {
  const E = w(map, `${prefix}embed_tokens.weight`);
  const D = cfg.hiddenSize;
  return ids.map((id) => Float64Array.from(E.subarray(id * D, (id + 1) * D)));
}

export function refLlama(cfg: TextConfig, map: WeightMap, prefix: string, ids: number[]): Vec[] {
  return refLlamaFromEmbeds(cfg, map, prefix, refEmbed(cfg, map, prefix, ids));
}

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** SigLIP on one full-size image pixels[c][y][x] (flat C·H·W): last_hidden_state [S][D]. */
export function refSiglip(cfg: VisionConfig, map: WeightMap, pixels: Float32Array, H: number, W: number): Vec[] {
  const { hiddenSize: D, patchSize: P, numChannels: C, numHeads: NH, intermediateSize: F } = cfg;
  const gh = H / P;
  const gw = W / P;
  const pw = w(map, 'model.vision_model.embeddings.patch_embedding.weight');
  const pb = w(map, 'model.vision_model.embeddings.patch_embedding.bias');
  const pos = w(map, 'model.vision_model.embeddings.position_embedding.weight');
  let h: Vec[] = [];
  for (let py = 0; py < gh; py++) {
    for (let px = 0; px < gw; px++) {
      const e = new Float64Array(D);
      const idx = py * gw + px; // full-size image → position id = patch index
      for (let d = 0; d < D; d++) {
        let s = pb[d];
        for (let c = 0; c < C; c++)
          for (let ky = 0; ky < P; ky++)
            for (let kx = 0; kx < P; kx++)
              s += pw[((d * C + c) * P + ky) * P + kx] * pixels[(c * H + py * P + ky) * W + px * P + kx];
        e[d] = s + pos[idx * D + d];
      }
      h.push(e);
    }
  }
  const hd = D / NH;
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.vision_model.encoder.layers.${l}.`;
    const xs = h.map((x) => layerNorm(x, w(map, `${p}layer_norm1.weight`), w(map, `${p}layer_norm1.bias`), cfg.layerNormEps));
    const lin = (name: string, x: Vec, out: number) => linear(w(map, `${p}${name}.weight`), x, out, w(map, `${p}${name}.bias`));
    const q = xs.map((x) => lin('self_attn.q_proj', x, D));
    const k = xs.map((x) => lin('self_attn.k_proj', x, D));
    const v = xs.map((x) => lin('self_attn.v_proj', x, D));
    const S = h.length;
    const ctx = Array.from({ length: S }, () => new Float64Array(D));
    for (let hh = 0; hh < NH; hh++) {
      for (let t = 0; t < S; t++) {
        const scores: number[] = [];
        for (let s = 0; s < S; s++) {
          let dot = 0;
          for (let j = 0; j < hd; j++) dot += q[t][hh * hd + j] * k[s][hh * hd + j];
          scores.push(dot / Math.sqrt(hd));
        }
        const pr = softmaxInPlace(scores);
        for (let s = 0; s < S; s++) for (let j = 0; j < hd; j++) ctx[t][hh * hd + j] += pr[s] * v[s][hh * hd + j];
      }
    }
    h = h.map((x, t) => add(x, lin('self_attn.out_proj', ctx[t], D)));
    h = h.map((x) => {
      const n = layerNorm(x, w(map, `${p}layer_norm2.weight`), w(map, `${p}layer_norm2.bias`), cfg.layerNormEps);
      return add(x, lin('mlp.fc2', lin('mlp.fc1', n, F).map(geluTanh), D));
    });
  }
  return h.map((x) =>
    layerNorm(x, w(map, 'model.vision_model.post_layernorm.weight'), w(map, 'model.vision_model.post_layernorm.bias'), cfg.layerNormEps),
  );
}

/**
 * Pixel shuffle by direct indexing: output token (i, j) of the (side/s)² grid is the
 * s×s block of patches starting at (i·s, j·s); its channels are ordered
 * (block row, block column, feature). (Derived from the HF view/permute sequence.)
 */
export function refPixelShuffle(x: Vec[], s: number): Vec[] {
  const side = Math.round(Math.sqrt(x.length));
  const D = x[0].length;
  const out: Vec[] = [];
  for (let i = 0; i < side / s; i++) {
    for (let j = 0; j < side / s; j++) {
      const tok = new Float64Array(D * s * s);
      for (let r = 0; r < s; r++) for (let c = 0; c < s; c++) tok.set(x[(i * s + r) * side + (j * s + c)], (r * s + c) * D);
      out.push(tok);
    }
  }
  return out;
}

/** Full Idefics3 forward of one sequence with its images (pixels of each image, flat C·H·W). */
export function refIdefics3(cfg: Idefics3Config, map: WeightMap, ids: number[], images: Float32Array[]): Vec[] {
  const proj = w(map, 'model.connector.modality_projection.proj.weight');
  const feats: Vec[] = [];
  for (const img of images) {
    const hidden = refSiglip(cfg.vision, map, img, cfg.vision.imageSize, cfg.vision.imageSize);
    for (const tok of refPixelShuffle(hidden, cfg.scaleFactor)) feats.push(linear(proj, tok, cfg.text.hiddenSize));
  }
  const embeds = refEmbed(cfg.text, map, idefics3Family.textPrefix, ids);
  let k = 0;
  ids.forEach((id, t) => {
    if (id === cfg.imageTokenId) embeds[t] = feats[k++];
  });
  if (k !== feats.length) throw new Error('reference: image token count mismatch');
  return refLlamaFromEmbeds(cfg.text, map, idefics3Family.textPrefix, embeds);
}

/** log-softmax of a row */
export function refLogSoftmax(row: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i] - m);
  const lse = m + Math.log(z);
  return Float64Array.from({ length: row.length }, (_, i) => row[i] - lse);
}
