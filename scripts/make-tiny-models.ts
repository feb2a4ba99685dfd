/**
 * Deterministic tiny random models in the exact Hugging Face folder layout.
 *
 *   npx tsx scripts/make-tiny-models.ts [outDir ...]
 *
 * Each out dir (default: tests/fixtures/models and public/models) receives
 *   tiny-smolvlm/   Idefics3ForConditionalGeneration (SmolVLM-256M-Instruct layout, BF16 weights)
 *   tiny-smollm2/   LlamaForCausalLM (SmolLM2-Instruct layout, tied embeddings, F32 weights)
 *   tiny-clip/      CLIPModel (clip-vit-base-patch32 layout: CLIPTokenizer, CLIPImageProcessor, F32 weights)
 * with config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, (preprocessor_config.json, processor_config.json,
 * chat_template.json for the VLM) and model.safetensors, so that the real
 * loading code (transformers.js AutoTokenizer/AutoProcessor, our safetensors
 * reader) runs on them. Weights are random (seeded): the models say nothing
 * sensible; they exist so every loading path can be tested offline.
 *
 * The ONNX files that transformers.js loads (tiny-smolvlm: `onnx/vision_encoder.onnx`,
 * `onnx/embed_tokens.onnx`, `onnx/decoder_model_merged.onnx`; tiny-clip: `onnx/text_model.onnx`,
 * `onnx/vision_model.onnx`) are built with `onnx-proto` from the very tensors stored in
 * `model.safetensors`, read back through our safetensors reader (BF16 decoded exactly, as the TF.js
 * loader sees them), so the ONNX and TF.js engines compute the same function. They are float32 and
 * carry no dtype suffix: the ONNX engine loads bundled models with `dtype: 'fp32'` (its default).
 *
 * The generator functions are pure (no Node APIs) and exported, so tests and
 * the app's sandbox can build the same bytes in memory.
 */
import {
  parseSafetensors,
  serializeSafetensors,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from '../src/models/safetensors';
import { buildClipOnnx, makeTinyClip } from './onnx/clip';
import { buildIdefics3Onnx, type Idefics3Config, type WeightMap as OnnxWeightMap } from './onnx/idefics3';

// ---------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------

/** mulberry32: a small, fast 32-bit PRNG; returns uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples by Box–Muller on a mulberry32 stream. */
export function gaussian(seed: number): () => number {
  const u = mulberry32(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u1 = u();
    while (u1 <= Number.EPSILON) u1 = u();
    const u2 = u();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}

// ---------------------------------------------------------------------------
// Byte-level BPE tokenizer (GPT-2 / SmolLM2 style)
// ---------------------------------------------------------------------------

/** GPT-2's reversible byte → printable-unicode map used by the ByteLevel pre-tokenizer. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

/** The built-in training corpus: plain English about pictures, shapes and colours. */
export const TINY_CORPUS = `
The image shows a red circle on the left and a blue square on the right.
What is in this image? There is a small green triangle above a large yellow star.
Describe the picture. The picture shows two cats sitting on a wooden table near the window.
A dog is running on the grass in the park. The sky is blue and there are white clouds.
How many circles are there in the image? There are three circles and one square.
The red ball is next to the blue box. The green tree is behind the small house.
Is there a person in the photo? Yes, a woman is holding a cup of coffee.
What color is the car? The car is black and it is parked in front of the building.
The answer is correct. The answer is wrong. This sentence describes what the image shows.
A man is riding a bicycle on the street. The street is wet because it was raining.
There is no cat in this picture. The object in the center is a purple hexagon.
The image contains a bowl of fruit: apples, bananas and oranges on a white plate.
User: What do you see? Assistant: I see a brown horse standing in a field of flowers.
The left side of the image is dark and the right side is bright.
Each shape has a color and a position. The shapes do not touch each other.
The small orange square is below the large blue circle, and the black line crosses the image.
Please describe the scene in detail. The scene is a kitchen with a table, two chairs and a lamp.
A bird is flying over the water. The boat on the lake is red and white.
The text in the image says hello. The number on the door is seven.
I think the image shows a city at night with many lights and tall buildings.
The children are playing with a ball on the beach near the sea.
The picture does not contain any animals. There are only shapes and colors.
This is a photo of a mountain covered with snow under a clear sky.
The woman is wearing a red dress and the man is wearing a blue shirt.
The image is a drawing of a house with a door, two windows and a chimney.
There are four triangles, two squares and one circle in the picture.
The green circle is in the top left corner and the yellow square is in the bottom right corner.
`;

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Pre-tokenize like Sequence[Digits(individual), ByteLevel(use_regex)]: words as byte-unicode strings. */
export function preTokenize(text: string): string[] {
  const b2u = bytesToUnicode();
  const enc = new TextEncoder();
  const out: string[] = [];
  for (const piece of text.split(/(\p{N})/u)) {
    if (piece === '') continue;
    for (const m of piece.matchAll(GPT2_SPLIT)) {
      out.push(Array.from(enc.encode(m[0]), (b) => b2u[b]).join(''));
    }
  }
  return out;
}

/**
 * Learn `numMerges` BPE merges from `corpus` (classic pair-count BPE; ties
 * broken by the lexicographically smallest pair, so the result is fully
 * deterministic). Stops early when every word is a single symbol.
 */
export function trainBpe(corpus: string, numMerges: number): Array<[string, string]> {
  const counts = new Map<string, number>();
  for (const w of preTokenize(corpus)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([w, c]) => ({ syms: Array.from(w), count: c }));
  const merges: Array<[string, string]> = [];
  for (let k = 0; k < numMerges; k++) {
    const pairs = new Map<string, number>();
    for (const { syms, count } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = syms[i] + '\u0000' + syms[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [key, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === null) break;
    const [a, b] = best.split('\u0000');
    merges.push([a, b]);
    for (const w of words) {
      const s = w.syms;
      const next: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(s[i]);
      }
      w.syms = next;
    }
  }
  return merges;
}

/** Special tokens at the start of the vocabulary (ids 0, 1, 2 as in SmolLM2). */
export const BASE_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** The Idefics3 image tokens, appended after the BPE vocabulary in SmolVLM's order. */
export function imageSpecialTokens(): string[] {
  const rows: string[] = [];
  for (let r = 1; r <= 6; r++) for (let c = 1; c <= 6; c++) rows.push(`<row_${r}_col_${c}>`);
  return ['<global-img>', ...rows, '<fake_token_around_image>', '<image>', '<end_of_utterance>'];
}

export const NUM_MERGES = 400;

export interface TinyTokenizer {
  /** tokenizer.json contents */
  json: Record<string, unknown>;
  /** total number of ids (model.vocab + added tokens) */
  size: number;
  /** id of every special token */
  specialIds: Record<string, number>;
}

/** The `model` entry of a tokenizer.json for a byte-level BPE, as the tokenizers library writes it. */
function bpeModel(vocab: Record<string, number>, merges: Array<[string, string]>) {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges: merges.map(([a, b]) => `${a} ${b}`),
  };
}

/** A byte-level BPE tokenizer.json; `withImageTokens` adds the SmolVLM tokens. */
export function buildTokenizer(withImageTokens: boolean): TinyTokenizer {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  let next = 0;
  for (const t of BASE_SPECIAL_TOKENS) vocab[t] = next++;
  for (let b = 0; b < 256; b++) vocab[b2u[b]] = next++;
  const merges = trainBpe(TINY_CORPUS, NUM_MERGES);
  for (const [a, b] of merges) {
    if (!(a + b in vocab)) vocab[a + b] = next++;
  }
  const specials: string[] = [...BASE_SPECIAL_TOKENS];
  const specialIds: Record<string, number> = {};
  BASE_SPECIAL_TOKENS.forEach((t, i) => (specialIds[t] = i));
  if (withImageTokens) {
    for (const t of imageSpecialTokens()) {
      specialIds[t] = next++;
      specials.push(t);
    }
  }
  const added_tokens = specials.map((content) => ({
    id: specialIds[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocab, merges),
  };
  return { json, size: next, specialIds };
}

// ---------------------------------------------------------------------------
// Chat templates
// ---------------------------------------------------------------------------

/** SmolVLM-256M-Instruct's chat template (as published with the model). */
export const SMOLVLM_CHAT_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}" +
  "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}" +
  "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}" +
  "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n" +
  "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

/** SmolLM2-Instruct's ChatML template, without the default system prompt the real one injects. */
export const SMOLLM2_CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// ---------------------------------------------------------------------------
// Model dimensions and weight inventories
// ---------------------------------------------------------------------------

export interface TextDims {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
}

export interface VisionDims {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  image_size: number;
  patch_size: number;
}

export const TINY_TEXT_DIMS: TextDims = {
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
};

export const TINY_VISION_DIMS: VisionDims = {
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  image_size: 32,
  patch_size: 8,
};

export const TINY_SCALE_FACTOR = 2;

export type Init = 'normal' | 'ones' | 'zeros';
export interface TensorSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** Llama decoder tensors under `prefix` (e.g. "model.text_model." or "model."). */
export function llamaTensorSpecs(prefix: string, d: TextDims, vocab: number): TensorSpec[] {
  const D = d.hidden_size;
  const q = d.num_attention_heads * d.head_dim;
  const kv = d.num_key_value_heads * d.head_dim;
  const I = d.intermediate_size;
  const specs: TensorSpec[] = [{ name: `${prefix}embed_tokens.weight`, shape: [vocab, D], init: 'normal' }];
  for (let i = 0; i < d.num_hidden_layers; i++) {
    const l = `${prefix}layers.${i}.`;
    specs.push(
      { name: `${l}self_attn.q_proj.weight`, shape: [q, D], init: 'normal' },
      { name: `${l}self_attn.k_proj.weight`, shape: [kv, D], init: 'normal' },
      { name: `${l}self_attn.v_proj.weight`, shape: [kv, D], init: 'normal' },
      { name: `${l}self_attn.o_proj.weight`, shape: [D, q], init: 'normal' },
      { name: `${l}mlp.gate_proj.weight`, shape: [I, D], init: 'normal' },
      { name: `${l}mlp.up_proj.weight`, shape: [I, D], init: 'normal' },
      { name: `${l}mlp.down_proj.weight`, shape: [D, I], init: 'normal' },
      { name: `${l}input_layernorm.weight`, shape: [D], init: 'ones' },
      { name: `${l}post_attention_layernorm.weight`, shape: [D], init: 'ones' },
    );
  }
  specs.push({ name: `${prefix}norm.weight`, shape: [D], init: 'ones' });
  return specs;
}

/** Every tensor of an Idefics3ForConditionalGeneration checkpoint, with HF names and [out, in] linears. */
export function idefics3TensorSpecs(v: VisionDims, t: TextDims, scaleFactor: number, vocab: number): TensorSpec[] {
  const Dv = v.hidden_size;
  const Iv = v.intermediate_size;
  const P = v.patch_size;
  const numPatches = (v.image_size / P) ** 2;
  const vm = 'model.vision_model.';
  const specs: TensorSpec[] = [
    { name: `${vm}embeddings.patch_embedding.weight`, shape: [Dv, 3, P, P], init: 'normal' },
    { name: `${vm}embeddings.patch_embedding.bias`, shape: [Dv], init: 'normal' },
    { name: `${vm}embeddings.position_embedding.weight`, shape: [numPatches, Dv], init: 'normal' },
  ];
  for (let i = 0; i < v.num_hidden_layers; i++) {
    const l = `${vm}encoder.layers.${i}.`;
    specs.push(
      { name: `${l}layer_norm1.weight`, shape: [Dv], init: 'ones' },
      { name: `${l}layer_norm1.bias`, shape: [Dv], init: 'zeros' },
    );
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      specs.push(
        { name: `${l}self_attn.${p}.weight`, shape: [Dv, Dv], init: 'normal' },
        { name: `${l}self_attn.${p}.bias`, shape: [Dv], init: 'normal' },
      );
    }
    specs.push(
      { name: `${l}layer_norm2.weight`, shape: [Dv], init: 'ones' },
      { name: `${l}layer_norm2.bias`, shape: [Dv], init: 'zeros' },
      { name: `${l}mlp.fc1.weight`, shape: [Iv, Dv], init: 'normal' },
      { name: `${l}mlp.fc1.bias`, shape: [Iv], init: 'normal' },
      { name: `${l}mlp.fc2.weight`, shape: [Dv, Iv], init: 'normal' },
      { name: `${l}mlp.fc2.bias`, shape: [Dv], init: 'normal' },
    );
  }
  specs.push(
    { name: `${vm}post_layernorm.weight`, shape: [Dv], init: 'ones' },
    { name: `${vm}post_layernorm.bias`, shape: [Dv], init: 'zeros' },
    {
      name: 'model.connector.modality_projection.proj.weight',
      shape: [t.hidden_size, Dv * scaleFactor * scaleFactor],
      init: 'normal',
    },
    ...llamaTensorSpecs('model.text_model.', t, vocab),
    { name: 'lm_head.weight', shape: [vocab, t.hidden_size], init: 'normal' },
  );
  return specs;
}

export const INIT_STD = 0.02;

function makeTensors(specs: TensorSpec[], seed: number, dtype: SafetensorsDtype): Record<string, SafetensorsTensor> {
  const normal = gaussian(seed);
  const out: Record<string, SafetensorsTensor> = {};
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (s.init === 'ones') data.fill(1);
    else if (s.init === 'normal') for (let i = 0; i < n; i++) data[i] = INIT_STD * normal();
    out[s.name] = { dtype, shape: s.shape, data };
  }
  return out;
}

// ---------------------------------------------------------------------------
// Model folders
// ---------------------------------------------------------------------------

export interface TinyModel {
  /** Hugging Face folder name, e.g. "tiny-smolvlm" */
  name: string;
  /** path inside the folder → contents */
  files: Record<string, Uint8Array | string>;
  config: Record<string, unknown>;
  tokenizer: TinyTokenizer;
  tensorSpecs: TensorSpec[];
}

function json(x: unknown): string {
  return JSON.stringify(x, null, 2) + '\n';
}

function addedTokensDecoder(tok: TinyTokenizer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [content, id] of Object.entries(tok.specialIds).sort((a, b) => a[1] - b[1])) {
    out[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  return out;
}

function readme(name: string, seed: number, what: string): string {
  return (
    `# ${name}\n\nA tiny ${what} with random weights (seed ${seed}), generated by ` +
    '`scripts/make-tiny-models.ts` for offline tests and the sandbox. It has the exact ' +
    'Hugging Face folder layout of the model it imitates; its answers are meaningless.\n'
  );
}

export const TINY_SMOLVLM_SEED = 1;
export const TINY_SMOLLM2_SEED = 2;

/** A tiny Idefics3 / SmolVLM-256M-Instruct look-alike. */
export function makeTinySmolVLM(seed = TINY_SMOLVLM_SEED): TinyModel {
  const tok = buildTokenizer(true);
  const v = TINY_VISION_DIMS;
  const t = TINY_TEXT_DIMS;
  const sf = TINY_SCALE_FACTOR;
  const vocab = tok.size;
  const imageSeqLen = (v.image_size / v.patch_size) ** 2 / sf ** 2;
  const ids = tok.specialIds;
  const bos = ids['<|im_start|>'];
  const eou = ids['<end_of_utterance>'];
  const pad = ids['<|im_end|>'];

  const config = {
    architectures: ['Idefics3ForConditionalGeneration'],
    image_token_id: ids['<image>'],
    model_type: 'idefics3',
    scale_factor: sf,
    text_config: {
      architectures: ['VLlama3ForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: bos,
      eos_token_id: pad,
      head_dim: t.head_dim,
      hidden_act: 'silu',
      hidden_size: t.hidden_size,
      initializer_range: INIT_STD,
      intermediate_size: t.intermediate_size,
      is_llama_config: true,
      max_position_embeddings: 512,
      mlp_bias: false,
      model_type: 'llama',
      neftune_noise_alpha: 0.0,
      num_attention_heads: t.num_attention_heads,
      num_hidden_layers: t.num_hidden_layers,
      num_key_value_heads: t.num_key_value_heads,
      pad_token_id: pad,
      pixel_shuffle_factor: sf,
      pretraining_tp: 1,
      qk_layer_norms: false,
      rms_norm_eps: 1e-5,
      rope_interleaved: false,
      rope_scaling: null,
      rope_theta: 100000,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      use_cache: true,
      use_resampler: false,
      vocab_size: vocab,
    },
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
    transformers_version: '4.46.0',
    use_cache: true,
    vision_config: {
      attention_dropout: 0.0,
      hidden_act: 'gelu_pytorch_tanh',
      hidden_size: v.hidden_size,
      image_size: v.image_size,
      initializer_range: INIT_STD,
      intermediate_size: v.intermediate_size,
      layer_norm_eps: 1e-6,
      max_image_size: { longest_edge: v.image_size },
      model_type: 'idefics3_vision',
      num_attention_heads: v.num_attention_heads,
      num_channels: 3,
      num_hidden_layers: v.num_hidden_layers,
      patch_size: v.patch_size,
      size: { longest_edge: v.image_size },
      tie_word_embeddings: false,
      use_base_siglip: true,
    },
    vocab_size: vocab,
  };

  const generation = { _from_model_config: true, bos_token_id: bos, eos_token_id: eou, pad_token_id: pad, transformers_version: '4.46.0' };
  const additional = ['<fake_token_around_image>', '<image>', '<end_of_utterance>'];
  const tokenizerConfig = {
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder(tok),
    additional_special_tokens: additional,
    bos_token: '<|im_start|>',
    chat_template: SMOLVLM_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<end_of_utterance>',
    legacy: false,
    model_max_length: 512,
    pad_token: '<|im_end|>',
    processor_class: 'Idefics3Processor',
    tokenizer_class: 'GPT2Tokenizer',
    truncation_side: 'left',
    unk_token: '<|endoftext|>',
    vocab_size: vocab,
  };
  const specialTokensMap = {
    additional_special_tokens: additional,
    bos_token: '<|im_start|>',
    eos_token: '<end_of_utterance>',
    pad_token: '<|im_end|>',
    unk_token: '<|endoftext|>',
  };
  const preprocessor = {
    do_convert_rgb: true,
    do_image_splitting: false,
    do_normalize: true,
    do_pad: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_processor_type: 'Idefics3ImageProcessor',
    image_std: [0.5, 0.5, 0.5],
    max_image_size: { longest_edge: v.image_size },
    processor_class: 'Idefics3Processor',
    resample: 1,
    rescale_factor: 1 / 255,
    size: { longest_edge: v.image_size },
  };
  const processor = { image_seq_len: imageSeqLen, processor_class: 'Idefics3Processor' };

  const specs = idefics3TensorSpecs(v, t, sf, vocab);
  const weights = serializeSafetensors(makeTensors(specs, seed, 'BF16'), { format: 'pt' });
  const onnx = buildIdefics3Onnx(config as unknown as Idefics3Config, weightsAsStored(weights, 'tiny-smolvlm/model.safetensors'));
  return {
    name: 'tiny-smolvlm',
    config,
    tokenizer: tok,
    tensorSpecs: specs,
    files: {
      'README.md': readme('tiny-smolvlm', seed, 'Idefics3ForConditionalGeneration (SmolVLM-256M-Instruct layout)'),
      'config.json': json(config),
      'generation_config.json': json(generation),
      'tokenizer.json': json(tok.json),
      'tokenizer_config.json': json(tokenizerConfig),
      'special_tokens_map.json': json(specialTokensMap),
      'chat_template.json': json({ chat_template: SMOLVLM_CHAT_TEMPLATE }),
      'preprocessor_config.json': json(preprocessor),
      'processor_config.json': json(processor),
      'model.safetensors': weights,
      ...onnx,
    },
  };
}

/**
 * The float32 weights exactly as a loader of `model.safetensors` sees them (BF16/F16 widened exactly), keyed by
 * their Hugging Face names: what the ONNX graphs are built from.
 */
export function weightsAsStored(safetensors: Uint8Array, fileName: string): OnnxWeightMap {
  const out: OnnxWeightMap = new Map();
  for (const [name, tensor] of parseSafetensors(safetensors, fileName).tensors) {
    if (tensor.data instanceof Float32Array) out.set(name, { shape: tensor.shape, data: tensor.data });
  }
  return out;
}

/** A tiny SmolLM2-Instruct look-alike (LlamaForCausalLM, tied embeddings). */
export function makeTinySmolLM2(seed = TINY_SMOLLM2_SEED): TinyModel {
  const tok = buildTokenizer(false);
  const t = TINY_TEXT_DIMS;
  const vocab = tok.size;
  const ids = tok.specialIds;
  const bos = ids['<|im_start|>'];
  const eos = ids['<|im_end|>'];
  const config = {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: bos,
    eos_token_id: eos,
    head_dim: t.head_dim,
    hidden_act: 'silu',
    hidden_size: t.hidden_size,
    initializer_range: INIT_STD,
    intermediate_size: t.intermediate_size,
    is_llama_config: true,
    max_position_embeddings: 512,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: t.num_attention_heads,
    num_hidden_layers: t.num_hidden_layers,
    num_key_value_heads: t.num_key_value_heads,
    pad_token_id: eos,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_interleaved: false,
    rope_scaling: null,
    rope_theta: 100000,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
    use_cache: true,
    vocab_size: vocab,
  };
  const generation = { _from_model_config: true, bos_token_id: bos, eos_token_id: eos, pad_token_id: eos, transformers_version: '4.46.0' };
  const additional = ['<|im_start|>', '<|im_end|>'];
  const tokenizerConfig = {
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder(tok),
    additional_special_tokens: additional,
    bos_token: '<|im_start|>',
    chat_template: SMOLLM2_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    model_max_length: 512,
    pad_token: '<|im_end|>',
    tokenizer_class: 'GPT2Tokenizer',
    unk_token: '<|endoftext|>',
    vocab_size: vocab,
  };
  const specialTokensMap = {
    additional_special_tokens: additional,
    bos_token: '<|im_start|>',
    eos_token: '<|im_end|>',
    pad_token: '<|im_end|>',
    unk_token: '<|endoftext|>',
  };
  const specs = llamaTensorSpecs('model.', t, vocab);
  const weights = serializeSafetensors(makeTensors(specs, seed, 'F32'), { format: 'pt' });
  return {
    name: 'tiny-smollm2',
    config,
    tokenizer: tok,
    tensorSpecs: specs,
    files: {
      'README.md': readme('tiny-smollm2', seed, 'LlamaForCausalLM (SmolLM2-Instruct layout)'),
      'config.json': json(config),
      'generation_config.json': json(generation),
      'tokenizer.json': json(tok.json),
      'tokenizer_config.json': json(tokenizerConfig),
      'special_tokens_map.json': json(specialTokensMap),
      'model.safetensors': weights,
    },
  };
}

// ---------------------------------------------------------------------------
// CLIP
// ---------------------------------------------------------------------------

export const TINY_CLIP_SEED = 3;
/** CLIP's text window of the tiny CLIP (`max_position_embeddings` = `model_max_length`), small so truncation is testable. */
export const TINY_CLIP_CONTEXT = 16;
export const CLIP_NUM_MERGES = 150;
export const CLIP_BOS = '<|startoftext|>';
export const CLIP_EOS = '<|endoftext|>';

/**
 * A byte-level BPE tokenizer.json in CLIP's arrangement: lower-casing normalizer, the two special tokens at the
 * end of the vocabulary (`<|startoftext|>` = V − 2, `<|endoftext|>` = V − 1, as in openai/clip-vit-base-patch32),
 * and a post-processor that wraps every text in them.
 */
export function buildClipTokenizer(): TinyTokenizer {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  let next = 0;
  for (let b = 0; b < 256; b++) vocab[b2u[b]] = next++;
  const merges = trainBpe(TINY_CORPUS.toLowerCase(), CLIP_NUM_MERGES);
  for (const [a, b] of merges) {
    if (!(a + b in vocab)) vocab[a + b] = next++;
  }
  const specialIds: Record<string, number> = { [CLIP_BOS]: next, [CLIP_EOS]: next + 1 };
  next += 2;
  const added_tokens = [CLIP_BOS, CLIP_EOS].map((content) => ({
    id: specialIds[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  }));
  const special = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(CLIP_BOS), { Sequence: { id: 'A', type_id: 0 } }, special(CLIP_EOS)],
      pair: [
        special(CLIP_BOS),
        { Sequence: { id: 'A', type_id: 0 } },
        special(CLIP_EOS),
        { Sequence: { id: 'B', type_id: 0 } },
        special(CLIP_EOS),
      ],
      special_tokens: Object.fromEntries(
        [CLIP_BOS, CLIP_EOS].map((t) => [t, { id: t, ids: [specialIds[t]], tokens: [t] }]),
      ),
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocab, merges),
  };
  return { json, size: next, specialIds };
}

/** A tiny CLIP (openai/clip-vit-base-patch32 layout): weights from `makeTinyClip`, stored as F32 safetensors and as ONNX. */
export function makeTinyClipModel(seed = TINY_CLIP_SEED): TinyModel {
  const tok = buildClipTokenizer();
  const bos = tok.specialIds[CLIP_BOS];
  const eos = tok.specialIds[CLIP_EOS];
  const { config, weights } = makeTinyClip(seed, {
    vocabSize: tok.size,
    bosTokenId: bos,
    eosTokenId: eos,
    padTokenId: eos,
    maxPositionEmbeddings: TINY_CLIP_CONTEXT,
  });
  const fullConfig = { ...config, torch_dtype: 'float32', transformers_version: '4.46.0' };
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, w] of weights) tensors[name] = { dtype: 'F32', shape: w.shape, data: w.data };
  const safetensors = serializeSafetensors(tensors, { format: 'pt' });
  const onnx = buildClipOnnx(config, weightsAsStored(safetensors, 'tiny-clip/model.safetensors'));
  const tokenizerConfig = {
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder(tok),
    bos_token: CLIP_BOS,
    clean_up_tokenization_spaces: false,
    do_lower_case: true,
    eos_token: CLIP_EOS,
    errors: 'replace',
    model_max_length: TINY_CLIP_CONTEXT,
    pad_token: CLIP_EOS,
    processor_class: 'CLIPProcessor',
    tokenizer_class: 'CLIPTokenizer',
    unk_token: CLIP_EOS,
  };
  const specialTokensMap = { bos_token: CLIP_BOS, eos_token: CLIP_EOS, pad_token: CLIP_EOS, unk_token: CLIP_EOS };
  const size = config.vision_config.image_size;
  const preprocessor = {
    crop_size: { height: size, width: size },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    feature_extractor_type: 'CLIPFeatureExtractor',
    image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_processor_type: 'CLIPImageProcessor',
    image_std: [0.26862954, 0.26130258, 0.27577711],
    processor_class: 'CLIPProcessor',
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: size },
  };
  return {
    name: 'tiny-clip',
    config: fullConfig,
    tokenizer: tok,
    tensorSpecs: [...weights].map(([name, w]) => ({ name, shape: w.shape, init: 'normal' as const })),
    files: {
      'README.md': readme('tiny-clip', seed, 'CLIPModel (openai/clip-vit-base-patch32 layout)'),
      'config.json': json(fullConfig),
      'tokenizer.json': json(tok.json),
      'tokenizer_config.json': json(tokenizerConfig),
      'special_tokens_map.json': json(specialTokensMap),
      'preprocessor_config.json': json(preprocessor),
      'model.safetensors': safetensors,
      ...onnx,
    },
  };
}

export function makeTinyModels(): TinyModel[] {
  return [makeTinySmolVLM(), makeTinySmolLM2(), makeTinyClipModel()];
}

/**
 * Write a model folder to `dir/<model.name>/` (Node only). Returns the folder path.
 * Only this generator's files are (over)written; other files in the folder
 * (e.g. `onnx/*.onnx` made by another script) are left alone.
 */
export async function writeModel(dir: string, model: TinyModel): Promise<string> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const root = path.join(dir, model.name);
  for (const [name, contents] of Object.entries(model.files)) {
    const file = path.join(root, name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, contents);
  }
  return root;
}

async function main(argv: string[]): Promise<void> {
  const dirs = argv.length > 0 ? argv : ['tests/fixtures/models', 'public/models'];
  const models = makeTinyModels();
  for (const dir of dirs) {
    for (const m of models) {
      const root = await writeModel(dir, m);
      const bytes = Object.values(m.files).reduce((s, c) => s + (typeof c === 'string' ? new TextEncoder().encode(c).length : c.length), 0);
      console.log(`${root}: ${Object.keys(m.files).length} files, ${(bytes / 1024).toFixed(0)} KiB, vocab ${m.tokenizer.size}`);
    }
  }
}

const isMain =
  typeof process !== 'undefined' &&
  Array.isArray(process.argv) &&
  process.argv[1] !== undefined &&
  /make-tiny-models\.[cm]?[jt]s$/.test(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
