/**
 * The Llama decoder (SmolLM2; `model.text_model` inside Idefics3), written to read like the architecture:
 *
 *   h = embed_tokens[input_ids]
 *   for each layer:
 *     h = h + o_proj(GQA(RoPE(q_proj(x)), RoPE(k_proj(x)), v_proj(x)))      x = RMSNorm_in(h)
 *     h = h + down_proj(silu(gate_proj(x)) · up_proj(x))                     x = RMSNorm_post(h)
 *   logits = lm_head(RMSNorm(h))                                             (lm_head = embed_tokens when tied)
 *
 * - RMSNorm(x) = x / √(mean(x²) + eps) · weight.
 * - RoPE as in Hugging Face (`rotate_half` convention, not interleaved):
 *     inv_freq_i = θ^(−2i/d), i < d/2;  angle = pos · inv_freq;  emb = [angle, angle];
 *     q' = q·cos(emb) + rotate_half(q)·sin(emb),  rotate_half([x₁, x₂]) = [−x₂, x₁].
 * - Grouped-query attention: query head h reads key/value head ⌊h / (H/H_kv)⌋ (HF `repeat_kv`).
 * - Attention mask: causal, plus an optional padding mask (1 = token, 0 = padding) over all
 *   keys seen so far. Position ids are cumsum(mask) − 1 (as HF `generate` computes them), which for
 *   right padding is just 0 … T−1, so a right-padded batch member equals that sequence run alone.
 * - KV cache: keys/values of every layer (before `repeat_kv`), grown in place by `step`.
 *
 * Every linear of the decoder may carry a LoRA adapter; `lora: false` bypasses them all.
 */
import * as tf from '@tensorflow/tfjs';
import type { TextConfig } from '../config';
import { gatherRows } from './gatherRows';
import type { Linear, LoraAdapters } from './lora';
import { Prng } from '../prng';
import { argmax, sample } from '../sampling';

export interface LlamaLayer {
  inputLayernorm: tf.Tensor1D;
  qProj: Linear;
  kProj: Linear;
  vProj: Linear;
  oProj: Linear;
  postAttentionLayernorm: tf.Tensor1D;
  gateProj: Linear;
  upProj: Linear;
  downProj: Linear;
}

export interface LlamaWeights {
  /** [V, D] */
  embedTokens: tf.Tensor2D;
  layers: LlamaLayer[];
  /** [D] */
  norm: tf.Tensor1D;
  /** [V, D]; the very same tensor as `embedTokens` when the embeddings are tied */
  lmHead: tf.Tensor2D;
}

/** Options shared by every entry point that runs the decoder. */
export interface DecodeOptions {
  /** [B, T] (or [B, past+T] with a cache): 1 = token, 0 = padding. Default: all ones. */
  attentionMask?: number[][];
  /** use LoRA adapters; default: `lora.enabled` */
  lora?: boolean;
}

export interface TextInput extends DecodeOptions {
  inputIds: number[][];
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** stop after emitting one of these ids */
  eosTokenId?: number | number[];
  /** 0 (default) = greedy; > 0 = sample from softmax(logits / temperature) */
  temperature?: number;
  /** nucleus sampling: sample only from the smallest set of tokens whose probability reaches topP (with temperature > 0) */
  topP?: number;
  /** seed of the sampler */
  seed?: number;
  lora?: boolean;
  /** called with each new token id as soon as it is chosen */
  onToken?: (id: number) => void;
  /** stops generation (result.stop = 'aborted') before the next token */
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** the new token ids (the eos token included when it was emitted) */
  ids: number[];
  stop: 'eos' | 'length' | 'aborted';
}

/** Additive bias standing in for −∞ (finite so that a fully masked row gives no NaN). */
const MASKED = -1e9;

/** RMSNorm over the last axis: x / √(mean(x²) + eps) · weight. */
export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  return tf.tidy(() => {
    const variance = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), weight) as T;
  });
}

/** [x₁, x₂] → [−x₂, x₁] over the last axis (halves, not interleaved pairs). */
export function rotateHalf<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const half = x.shape[x.rank - 1] / 2;
    const [x1, x2] = tf.split(x, [half, half], -1);
    return tf.concat([tf.neg(x2), x1], -1) as T;
  });
}

/**
 * cos/sin tables for the given positions, [B, 1, T, head_dim] (broadcast over heads).
 * Computed on the CPU in double precision, then stored as float32.
 */
export function rotaryCosSin(positionIds: number[][], headDim: number, theta: number): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  const b = positionIds.length;
  const t = positionIds[0]?.length ?? 0;
  const half = headDim / 2;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  const cos = new Float32Array(b * t * headDim);
  const sin = new Float32Array(b * t * headDim);
  for (let bi = 0; bi < b; bi++) {
    for (let ti = 0; ti < t; ti++) {
      const base = (bi * t + ti) * headDim;
      const pos = positionIds[bi][ti];
      for (let i = 0; i < half; i++) {
        const angle = pos * invFreq[i];
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        cos[base + i] = c;
        cos[base + half + i] = c;
        sin[base + i] = s;
        sin[base + half + i] = s;
      }
    }
  }
  return { cos: tf.tensor4d(cos, [b, 1, t, headDim]), sin: tf.tensor4d(sin, [b, 1, t, headDim]) };
}

/** x·cos + rotate_half(x)·sin, x: [B, H, T, head_dim]. */
export function applyRotary(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin)) as tf.Tensor4D);
}

/** Position ids of the last `t` tokens: cumsum(mask) − 1 over the whole mask (0 where that is negative). */
export function positionIdsFromMask(mask: number[][], t: number): number[][] {
  return mask.map((row) => {
    const pos: number[] = [];
    let c = 0;
    for (const m of row) {
      c += m ? 1 : 0;
      pos.push(Math.max(c - 1, 0));
    }
    return pos.slice(row.length - t);
  });
}

/** Additive attention bias [B, 1, T, S]: 0 where query i (absolute index past+i) may see key j, else −1e9. */
export function attentionBias(mask: number[][], t: number): tf.Tensor4D {
  const b = mask.length;
  const s = mask[0].length;
  const past = s - t;
  const bias = new Float32Array(b * t * s);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < t; i++) {
      const row = (bi * t + i) * s;
      for (let j = 0; j < s; j++) bias[row + j] = j <= past + i && mask[bi][j] ? 0 : MASKED;
    }
  }
  return tf.tensor4d(bias, [b, 1, t, s]);
}

function checkIds(inputIds: number[][], vocabSize: number): void {
  if (inputIds.length === 0 || inputIds[0].length === 0) throw new Error('inputIds must be a non-empty [B, T] array');
  const t = inputIds[0].length;
  for (const row of inputIds) {
    if (row.length !== t) throw new Error('inputIds rows must all have the same length (pad them and pass an attentionMask)');
    for (const id of row) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`token id ${id} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
}

/** Keys and values of every layer for the tokens seen so far; `step` grows it in place. */
export class KVCache {
  constructor(
    /** per layer, [B, H_kv, S, head_dim] */
    public keys: tf.Tensor4D[],
    public values: tf.Tensor4D[],
    /** [B, S] mask of the cached tokens */
    public attentionMask: number[][],
  ) {}

  get length(): number {
    return this.attentionMask[0]?.length ?? 0;
  }

  get batchSize(): number {
    return this.attentionMask.length;
  }

  dispose(): void {
    tf.dispose([...this.keys, ...this.values]);
    this.keys = [];
    this.values = [];
  }
}

/**
 * Log-probability of each next token: out[b, t] = log softmax(logits[b, t])[ids[b, t+1]],
 * computed as logit − logsumexp (no [B,T,V] log-softmax tensor is materialised), and
 * exactly 0 where mask[b, t+1] = 0 so that padding targets contribute nothing. Differentiable.
 * logits: [B, T−1, V] (the positions that predict tokens 1 … T−1).
 */
export function gatherTokenLogprobs(logits: tf.Tensor3D, inputIds: number[][], attentionMask?: number[][]): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, n, v] = logits.shape;
    const flatIdx = new Int32Array(b * n);
    const targetMask = new Uint8Array(b * n);
    for (let bi = 0; bi < b; bi++) {
      for (let t = 0; t < n; t++) {
        flatIdx[bi * n + t] = (bi * n + t) * v + inputIds[bi][t + 1];
        targetMask[bi * n + t] = attentionMask ? (attentionMask[bi][t + 1] ? 1 : 0) : 1;
      }
    }
    const flat = logits.reshape([b * n * v]);
    const picked = gatherRows<tf.Rank.R1>(flat, flatIdx);
    const lse = tf.logSumExp(logits.reshape([b * n, v]), -1);
    const lp = tf.sub(picked, lse);
    return tf.where(tf.tensor1d(targetMask, 'bool'), lp, tf.zerosLike(lp)).reshape([b, n]) as tf.Tensor2D;
  });
}

export class LlamaModel {
  constructor(
    readonly config: TextConfig,
    readonly weights: LlamaWeights,
    readonly lora: LoraAdapters,
  ) {}

  private useLora(opt?: boolean): boolean {
    return opt ?? this.lora.enabled;
  }

  /** input_ids [B, T] → token embeddings [B, T, D] */
  embed(inputIds: number[][]): tf.Tensor3D {
    checkIds(inputIds, this.config.vocabSize);
    return tf.tidy(() => {
      const b = inputIds.length;
      const t = inputIds[0].length;
      return gatherRows(this.weights.embedTokens, Int32Array.from(inputIds.flat())).reshape([b, t, this.config.hiddenSize]) as tf.Tensor3D;
    });
  }

  /** Grouped-query causal self-attention of one layer; returns the output and this step's keys/values. */
  private attention(
    layer: LlamaLayer,
    x: tf.Tensor3D,
    rope: { cos: tf.Tensor4D; sin: tf.Tensor4D },
    bias: tf.Tensor4D,
    past: { k: tf.Tensor4D; v: tf.Tensor4D } | null,
    useLora: boolean,
  ): { out: tf.Tensor3D; k: tf.Tensor4D; v: tf.Tensor4D } {
    const { numHeads: nh, numKvHeads: nkv, headDim: hd } = this.config;
    const [b, t] = x.shape;
    const split = (y: tf.Tensor3D, heads: number) => y.reshape([b, t, heads, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
    const q = applyRotary(split(layer.qProj.apply(x, useLora), nh), rope.cos, rope.sin);
    let k = applyRotary(split(layer.kProj.apply(x, useLora), nkv), rope.cos, rope.sin);
    let v = split(layer.vProj.apply(x, useLora), nkv);
    if (past) {
      k = tf.concat([past.k, k], 2);
      v = tf.concat([past.v, v], 2);
    }
    const s = k.shape[2];
    const nRep = nh / nkv;
    const repeatKv = (y: tf.Tensor4D): tf.Tensor4D => {
      if (nRep === 1) return y;
      const y4 = y.reshape([b, nkv, 1, s * hd]);
      return tf.concat(new Array<tf.Tensor>(nRep).fill(y4), 2).reshape([b, nh, s, hd]) as tf.Tensor4D;
    };
    const scores = tf.add(tf.mul(tf.matMul(q, repeatKv(k), false, true), 1 / Math.sqrt(hd)), bias);
    const probs = tf.softmax(scores, -1);
    const ctx = tf.matMul(probs, repeatKv(v)).transpose([0, 2, 1, 3]).reshape([b, t, nh * hd]) as tf.Tensor3D;
    return { out: layer.oProj.apply(ctx, useLora), k, v };
  }

  private mlp(layer: LlamaLayer, x: tf.Tensor3D, useLora: boolean): tf.Tensor3D {
    const gate = layer.gateProj.apply(x, useLora);
    const up = layer.upProj.apply(x, useLora);
    return layer.downProj.apply(tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor3D, useLora);
  }

  /**
   * The decoder on input embeddings [B, T, D] → final hidden states [B, T, D] (after the last RMSNorm).
   * With a cache, `attentionMask` covers only the T new tokens (default ones) and the cache is extended in place.
   */
  hidden(embeds: tf.Tensor3D, opts: DecodeOptions & { cache?: KVCache } = {}): tf.Tensor3D {
    const [b, t] = embeds.shape;
    const cache = opts.cache;
    const newMask = opts.attentionMask ? opts.attentionMask.map((r) => r.slice()) : Array.from({ length: b }, () => new Array<number>(t).fill(1));
    if (newMask.length !== b || newMask.some((r) => r.length !== t)) {
      throw new Error(`attentionMask must be [${b}, ${t}], got [${newMask.length}, ${newMask[0]?.length}]`);
    }
    if (cache && cache.batchSize !== b) throw new Error(`KV cache holds ${cache.batchSize} sequences, got ${b}`);
    const fullMask = cache ? cache.attentionMask.map((r, i) => [...r, ...newMask[i]]) : newMask;
    const useLora = this.useLora(opts.lora);
    const result = tf.tidy(() => {
      const rope = rotaryCosSin(positionIdsFromMask(fullMask, t), this.config.headDim, this.config.ropeTheta);
      const bias = attentionBias(fullMask, t);
      let h = embeds;
      const ks: tf.Tensor4D[] = [];
      const vs: tf.Tensor4D[] = [];
      this.weights.layers.forEach((layer, i) => {
        const past = cache && cache.length > 0 ? { k: cache.keys[i], v: cache.values[i] } : null;
        const attn = this.attention(layer, rmsNorm(h, layer.inputLayernorm, this.config.rmsNormEps), rope, bias, past, useLora);
        if (cache) {
          ks.push(attn.k);
          vs.push(attn.v);
        }
        h = tf.add(h, attn.out) as tf.Tensor3D;
        h = tf.add(h, this.mlp(layer, rmsNorm(h, layer.postAttentionLayernorm, this.config.rmsNormEps), useLora)) as tf.Tensor3D;
      });
      return { h: rmsNorm(h, this.weights.norm, this.config.rmsNormEps), ks, vs };
    });
    if (cache) {
      result.ks.forEach((k) => tf.keep(k));
      result.vs.forEach((v) => tf.keep(v));
      cache.dispose();
      cache.keys = result.ks;
      cache.values = result.vs;
      cache.attentionMask = fullMask;
    }
    return result.h;
  }

  /** hidden [B, T, D] → logits [B, T, V] (2-D matMul with lm_head [V, D]). */
  logits(hidden: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t, d] = hidden.shape;
      return tf.matMul(hidden.reshape([b * t, d]), this.weights.lmHead, false, true).reshape([b, t, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /** An empty cache for `b` sequences. */
  emptyCache(b: number): KVCache {
    return new KVCache([], [], Array.from({ length: b }, () => []));
  }

  /** logits [B, T, V] of a token batch. */
  forward(input: TextInput): tf.Tensor3D {
    return tf.tidy(() => this.logits(this.hidden(this.embed(input.inputIds), input)));
  }

  /** log p(token t+1 | tokens ≤ t) for t = 0 … T−2, [B, T−1]; 0 where the target is padding. */
  tokenLogprobs(input: TextInput): tf.Tensor2D {
    return tf.tidy(() => this.tokenLogprobsFromEmbeds(this.embed(input.inputIds), input.inputIds, input));
  }

  /** Shared by the text-only and the multimodal model. */
  tokenLogprobsFromEmbeds(embeds: tf.Tensor3D, inputIds: number[][], opts: DecodeOptions): tf.Tensor2D {
    return tf.tidy(() => {
      const [b, t, d] = embeds.shape;
      if (t < 2) throw new Error('tokenLogprobs needs sequences of at least 2 tokens');
      const h = this.hidden(embeds, opts);
      const logits = this.logits(tf.slice(h, [0, 0, 0], [b, t - 1, d]));
      return gatherTokenLogprobs(logits, inputIds, opts.attentionMask);
    });
  }

  /** Run the prompt and keep its keys/values: returns logits [B, T, V] and a cache to `step` from. */
  prefill(input: TextInput): { logits: tf.Tensor3D; cache: KVCache } {
    const embeds = this.embed(input.inputIds);
    const out = this.prefillEmbeds(embeds, input);
    embeds.dispose();
    return out;
  }

  prefillEmbeds(embeds: tf.Tensor3D, opts: DecodeOptions): { logits: tf.Tensor3D; cache: KVCache } {
    const cache = this.emptyCache(embeds.shape[0]);
    const h = this.hidden(embeds, { ...opts, cache });
    const logits = this.logits(h);
    h.dispose();
    return { logits, cache };
  }

  /** Feed the next tokens [B, t] (usually t = 1) after the cached ones; extends `cache` in place; logits [B, t, V]. */
  step(cache: KVCache, nextIds: number[][], opts: DecodeOptions = {}): tf.Tensor3D {
    const embeds = this.embed(nextIds);
    const h = this.hidden(embeds, { ...opts, cache });
    const logits = this.logits(h);
    tf.dispose([embeds, h]);
    return logits;
  }

  /** Generate for one prompt (greedy by default): the new token ids and why generation stopped. */
  async generate(inputIds: number[], opts: GenerateOptions): Promise<GenerateResult> {
    const embeds = this.embed([inputIds]);
    try {
      return await this.generateFromEmbeds(embeds, opts);
    } finally {
      embeds.dispose();
    }
  }

  async generateFromEmbeds(embeds: tf.Tensor3D, opts: GenerateOptions): Promise<GenerateResult> {
    if (embeds.shape[0] !== 1) throw new Error('generate runs one sequence at a time');
    const eos = opts.eosTokenId === undefined ? [] : Array.isArray(opts.eosTokenId) ? opts.eosTokenId : [opts.eosTokenId];
    const temperature = opts.temperature ?? 0;
    const prng = new Prng(opts.seed ?? 0);
    const ids: number[] = [];
    if (opts.maxNewTokens <= 0) return { ids, stop: 'length' };
    if (opts.signal?.aborted) return { ids, stop: 'aborted' };
    const prefilled = this.prefillEmbeds(embeds, { lora: opts.lora });
    const cache = prefilled.cache;
    let logits = prefilled.logits;
    let stop: GenerateResult['stop'] = 'length';
    try {
      for (let i = 0; i < opts.maxNewTokens; i++) {
        const last = tf.tidy(() => logits.slice([0, logits.shape[1] - 1, 0], [1, 1, this.config.vocabSize]).reshape([-1]));
        const scores = (await last.data()) as Float32Array;
        last.dispose();
        const next = temperature > 0 ? sample(scores, temperature, opts.topP ?? 1, prng) : argmax(scores);
        ids.push(next);
        opts.onToken?.(next);
        if (eos.includes(next)) {
          stop = 'eos';
          break;
        }
        if (i === opts.maxNewTokens - 1) break;
        if (opts.signal?.aborted) {
          stop = 'aborted';
          break;
        }
        logits.dispose();
        logits = this.step(cache, [[next]], { lora: opts.lora });
      }
    } finally {
      logits.dispose();
      cache.dispose();
    }
    return { ids, stop };
  }

  dispose(): void {
    const w = this.weights;
    const tensors: tf.Tensor[] = [w.embedTokens, w.norm];
    if (w.lmHead !== w.embedTokens) tensors.push(w.lmHead);
    for (const l of w.layers) {
      tensors.push(l.inputLayernorm, l.postAttentionLayernorm);
      for (const lin of [l.qProj, l.kProj, l.vProj, l.oProj, l.gateProj, l.upProj, l.downProj]) {
        tensors.push(lin.weight);
        if (lin.bias) tensors.push(lin.bias);
      }
    }
    tf.dispose(tensors);
    this.lora.dispose();
  }
}
