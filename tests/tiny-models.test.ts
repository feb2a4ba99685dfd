import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoProcessor, AutoTokenizer, RawImage, env } from '@huggingface/transformers';
import onnxProto from 'onnx-proto';
import { parseSafetensors } from '../src/models/safetensors';
import { makeTinyClipModel, TINY_CLIP_CONTEXT } from '../scripts/tiny-models/clip';
import type { TinyModel } from '../scripts/tiny-models/common';
import { makeTinySmolLM2 } from '../scripts/tiny-models/smollm2';
import { makeTinySmolVLM } from '../scripts/tiny-models/smolvlm';
import { bytesToUnicode, imageSpecialTokens } from '../scripts/tiny-models/tokenizer';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = path.join(ROOT, 'tests/fixtures/models');
const MB2 = 2 * 1024 * 1024;

function bytesOf(c: Uint8Array | string): Uint8Array {
  return typeof c === 'string' ? new TextEncoder().encode(c) : c;
}

function sameBytes(a: Uint8Array | string, b: Uint8Array | string): boolean {
  return Buffer.compare(Buffer.from(bytesOf(a)), Buffer.from(bytesOf(b))) === 0;
}

interface ConfigView {
  model_type: string;
  architectures: string[];
  vocab_size: number;
  image_token_id: number;
  scale_factor: number;
  eos_token_id: number;
  tie_word_embeddings: boolean;
  text_config: Record<string, unknown> & { vocab_size: number };
  vision_config: Record<string, unknown> & { image_size: number; patch_size: number };
}

function cfg(m: TinyModel): ConfigView {
  return m.config as unknown as ConfigView;
}

/** Every float initializer of an ONNX file, by name. */
function onnxInitializers(bytes: Uint8Array): Map<string, { dims: number[]; data: Float32Array }> {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  const out = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType !== onnxProto.onnx.TensorProto.DataType.FLOAT || !t.rawData || !t.name) continue;
    const raw = t.rawData;
    const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    out.set(t.name, { dims: (t.dims ?? []).map(Number), data });
  }
  return out;
}

describe('generator', () => {
  const vlm = makeTinySmolVLM();
  const lm = makeTinySmolLM2();
  const clip = makeTinyClipModel();

  it('is deterministic: same seed, identical bytes; another seed, other weights', () => {
    for (const [a, b] of [
      [vlm, makeTinySmolVLM()],
      [lm, makeTinySmolLM2()],
      [clip, makeTinyClipModel()],
    ]) {
      expect(Object.keys(a.files)).toEqual(Object.keys(b.files));
      for (const k of Object.keys(a.files)) expect(sameBytes(a.files[k], b.files[k]), k).toBe(true);
    }
    const other = makeTinySmolVLM(99);
    expect(sameBytes(other.files['model.safetensors'], vlm.files['model.safetensors'])).toBe(false);
    expect(other.files['tokenizer.json']).toBe(vlm.files['tokenizer.json']);
    expect(sameBytes(other.files['onnx/decoder_model_merged.onnx'], vlm.files['onnx/decoder_model_merged.onnx'])).toBe(false);
    const otherClip = makeTinyClipModel(99);
    expect(sameBytes(otherClip.files['model.safetensors'], clip.files['model.safetensors'])).toBe(false);
    expect(sameBytes(otherClip.files['onnx/text_model.onnx'], clip.files['onnx/text_model.onnx'])).toBe(false);
  });

  it('keeps every file under 2 MB and writes the Hugging Face layout', () => {
    for (const m of [vlm, lm, clip]) {
      for (const [k, c] of Object.entries(m.files)) expect(bytesOf(c).length, k).toBeLessThan(MB2);
    }
    expect(Object.keys(vlm.files).sort()).toEqual(
      [
        'README.md',
        'chat_template.json',
        'config.json',
        'generation_config.json',
        'model.safetensors',
        ...['decoder_model_merged', 'embed_tokens', 'vision_encoder'].flatMap((s) => ['', '_quantized', '_q4'].map((q) => `onnx/${s}${q}.onnx`)),
        'preprocessor_config.json',
        'processor_config.json',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ].sort(),
    );
    expect(Object.keys(clip.files).sort()).toEqual(
      [
        'README.md',
        'config.json',
        'model.safetensors',
        'onnx/text_model.onnx',
        'onnx/vision_model.onnx',
        'preprocessor_config.json',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ].sort(),
    );
    expect(Object.keys(lm.files).sort()).toEqual(
      [
        'README.md',
        'config.json',
        'generation_config.json',
        'model.safetensors',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ].sort(),
    );
  });

  it('has a consistent SmolVLM config', () => {
    const c = cfg(vlm);
    const tj = JSON.parse(vlm.files['tokenizer.json'] as string);
    const ids = vlm.tokenizer.specialIds;
    expect(c.model_type).toBe('idefics3');
    expect(c.architectures).toEqual(['Idefics3ForConditionalGeneration']);
    expect(c.vocab_size).toBe(vlm.tokenizer.size);
    expect(c.text_config.vocab_size).toBe(vlm.tokenizer.size);
    expect(vlm.tokenizer.size).toBeLessThan(1024);
    const maxId = Math.max(
      ...Object.values(tj.model.vocab as Record<string, number>),
      ...tj.added_tokens.map((t: { id: number }) => t.id),
    );
    expect(maxId + 1).toBe(vlm.tokenizer.size);
    expect(c.image_token_id).toBe(ids['<image>']);
    expect(c.scale_factor).toBe(2);
    const v = c.vision_config;
    expect(v).toMatchObject({
      model_type: 'idefics3_vision',
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      image_size: 32,
      patch_size: 8,
      layer_norm_eps: 1e-6,
      hidden_act: 'gelu_pytorch_tanh',
    });
    expect(c.text_config).toMatchObject({
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      max_position_embeddings: 512,
      tie_word_embeddings: false,
    });
    const proc = JSON.parse(vlm.files['processor_config.json'] as string);
    expect(proc.image_seq_len).toBe((v.image_size / v.patch_size) ** 2 / c.scale_factor ** 2);
    expect(proc.image_seq_len).toBe(4);
    const pre = JSON.parse(vlm.files['preprocessor_config.json'] as string);
    expect(pre.image_processor_type).toBe('Idefics3ImageProcessor');
    expect(pre.do_image_splitting).toBe(false);
    expect(pre.max_image_size.longest_edge).toBe(v.image_size);
    const gen = JSON.parse(vlm.files['generation_config.json'] as string);
    expect(gen.eos_token_id).toBe(ids['<end_of_utterance>']);
    expect(gen.bos_token_id).toBe(ids['<|im_start|>']);
  });

  it('has a consistent SmolLM2 config', () => {
    const c = cfg(lm);
    expect(c.model_type).toBe('llama');
    expect(c.architectures).toEqual(['LlamaForCausalLM']);
    expect(c.tie_word_embeddings).toBe(true);
    expect(c.vocab_size).toBe(lm.tokenizer.size);
    expect(c.eos_token_id).toBe(lm.tokenizer.specialIds['<|im_end|>']);
    // The shared part of the two vocabularies is identical.
    const a = JSON.parse(lm.files['tokenizer.json'] as string).model.vocab;
    const b = JSON.parse(vlm.files['tokenizer.json'] as string).model.vocab;
    expect(a).toEqual(b);
  });

  it('stores every expected SmolVLM tensor with Hugging Face names and shapes', () => {
    const st = parseSafetensors(vlm.files['model.safetensors'] as Uint8Array, 'tiny-smolvlm/model.safetensors');
    const V = vlm.tokenizer.size;
    const expected: Record<string, number[]> = {
      'model.vision_model.embeddings.patch_embedding.weight': [32, 3, 8, 8],
      'model.vision_model.embeddings.patch_embedding.bias': [32],
      'model.vision_model.embeddings.position_embedding.weight': [16, 32],
      'model.vision_model.post_layernorm.weight': [32],
      'model.vision_model.post_layernorm.bias': [32],
      'model.connector.modality_projection.proj.weight': [64, 128],
      'model.text_model.embed_tokens.weight': [V, 64],
      'model.text_model.norm.weight': [64],
      'lm_head.weight': [V, 64],
    };
    for (let i = 0; i < 2; i++) {
      const l = `model.vision_model.encoder.layers.${i}.`;
      for (const n of ['layer_norm1', 'layer_norm2']) {
        expected[`${l}${n}.weight`] = [32];
        expected[`${l}${n}.bias`] = [32];
      }
      for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
        expected[`${l}self_attn.${p}.weight`] = [32, 32];
        expected[`${l}self_attn.${p}.bias`] = [32];
      }
      expected[`${l}mlp.fc1.weight`] = [64, 32];
      expected[`${l}mlp.fc1.bias`] = [64];
      expected[`${l}mlp.fc2.weight`] = [32, 64];
      expected[`${l}mlp.fc2.bias`] = [32];
      const t = `model.text_model.layers.${i}.`;
      expected[`${t}self_attn.q_proj.weight`] = [64, 64];
      expected[`${t}self_attn.k_proj.weight`] = [32, 64];
      expected[`${t}self_attn.v_proj.weight`] = [32, 64];
      expected[`${t}self_attn.o_proj.weight`] = [64, 64];
      expected[`${t}mlp.gate_proj.weight`] = [128, 64];
      expected[`${t}mlp.up_proj.weight`] = [128, 64];
      expected[`${t}mlp.down_proj.weight`] = [64, 128];
      expected[`${t}input_layernorm.weight`] = [64];
      expected[`${t}post_attention_layernorm.weight`] = [64];
    }
    expect([...st.tensors.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [name, shape] of Object.entries(expected)) {
      const t = st.tensors.get(name)!;
      expect(t.shape, name).toEqual(shape);
      expect(t.dtype, name).toBe('BF16');
    }
    // Norm weights are exactly 1, LayerNorm biases 0, random weights small and not constant.
    expect(Array.from(st.tensors.get('model.text_model.norm.weight')!.data as Float32Array).every((x) => x === 1)).toBe(true);
    expect(
      Array.from(st.tensors.get('model.vision_model.post_layernorm.bias')!.data as Float32Array).every((x) => x === 0),
    ).toBe(true);
    const w = st.tensors.get('model.text_model.embed_tokens.weight')!.data as Float32Array;
    let s = 0;
    let s2 = 0;
    for (const x of w) {
      s += x;
      s2 += x * x;
    }
    const std = Math.sqrt(s2 / w.length - (s / w.length) ** 2);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    expect(st.metadata).toEqual({ format: 'pt' });
  });

  it('builds the SmolVLM ONNX files from exactly the weights stored in model.safetensors (BF16 decoded)', () => {
    const st = parseSafetensors(vlm.files['model.safetensors'] as Uint8Array, 'tiny-smolvlm/model.safetensors');
    const inits = new Map<string, { dims: number[]; data: Float32Array }>();
    for (const f of ['onnx/vision_encoder.onnx', 'onnx/embed_tokens.onnx', 'onnx/decoder_model_merged.onnx']) {
      for (const [k, v] of onnxInitializers(vlm.files[f] as Uint8Array)) inits.set(k, v);
    }
    let compared = 0;
    for (const [name, t] of st.tensors) {
      const init = inits.get(name);
      expect(init, name).toBeDefined();
      const data = t.data as Float32Array;
      const same = init!.dims.join() === t.shape.join() && Buffer.compare(Buffer.from(init!.data.buffer), Buffer.from(data.buffer, data.byteOffset, data.byteLength)) === 0;
      if (!same) {
        // Linear weights are stored transposed ([in, out]) for MatMul.
        const [out, inn] = t.shape;
        expect(init!.dims, name).toEqual([inn, out]);
        for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) if (init!.data[i * out + o] !== data[o * inn + i]) throw new Error(`${name}[${o},${i}] differs`);
      }
      compared++;
    }
    expect(compared).toBe(st.tensors.size);
    // BF16 storage matters: the weights are not plain float32 values (their low 16 bits are zero).
    const lm = st.tensors.get('lm_head.weight')!.data as Float32Array;
    expect(new Uint32Array(lm.buffer, lm.byteOffset, lm.length).every((b) => (b & 0xffff) === 0)).toBe(true);
  });

  it('has a consistent tiny CLIP: config, tokenizer ids, text window, image size and weights in both formats', () => {
    const c = clip.config as {
      model_type: string;
      projection_dim: number;
      text_config: { vocab_size: number; max_position_embeddings: number; eos_token_id: number; bos_token_id: number; pad_token_id: number };
      vision_config: { image_size: number; patch_size: number };
    };
    expect(c.model_type).toBe('clip');
    expect(c.text_config.vocab_size).toBe(clip.tokenizer.size);
    expect(c.text_config.max_position_embeddings).toBe(TINY_CLIP_CONTEXT);
    expect(c.text_config.bos_token_id).toBe(clip.tokenizer.size - 2);
    expect(c.text_config.eos_token_id).toBe(clip.tokenizer.size - 1);
    expect(c.text_config.pad_token_id).toBe(c.text_config.eos_token_id);
    expect(clip.tokenizer.specialIds).toEqual({ '<|startoftext|>': clip.tokenizer.size - 2, '<|endoftext|>': clip.tokenizer.size - 1 });
    const tc = JSON.parse(clip.files['tokenizer_config.json'] as string);
    expect(tc).toMatchObject({ tokenizer_class: 'CLIPTokenizer', bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', model_max_length: 16 });
    const pp = JSON.parse(clip.files['preprocessor_config.json'] as string);
    expect(pp).toMatchObject({ image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 32 }, crop_size: { height: 32, width: 32 } });
    expect(c.vision_config.image_size).toBe(32);
    const st = parseSafetensors(clip.files['model.safetensors'] as Uint8Array, 'tiny-clip/model.safetensors');
    expect(st.tensors.get('text_model.embeddings.token_embedding.weight')!.shape).toEqual([clip.tokenizer.size, 32]);
    expect(st.tensors.get('text_model.embeddings.position_embedding.weight')!.shape).toEqual([16, 32]);
    expect(st.tensors.get('visual_projection.weight')!.shape).toEqual([c.projection_dim, 32]);
    for (const t of st.tensors.values()) expect(t.dtype).toBe('F32');
    const text = onnxInitializers(clip.files['onnx/text_model.onnx'] as Uint8Array);
    const tok = st.tensors.get('text_model.embeddings.token_embedding.weight')!.data as Float32Array;
    expect(Array.from(text.get('text_model.embeddings.token_embedding.weight')!.data)).toEqual(Array.from(tok));
    const vision = onnxInitializers(clip.files['onnx/vision_model.onnx'] as Uint8Array);
    const cls = st.tensors.get('vision_model.embeddings.class_embedding')!.data as Float32Array;
    expect(Array.from(vision.get('vision_model.embeddings.class_embedding')!.data)).toEqual(Array.from(cls));
  });

  it('stores every expected SmolLM2 tensor (tied: no lm_head)', () => {
    const st = parseSafetensors(lm.files['model.safetensors'] as Uint8Array, 'tiny-smollm2/model.safetensors');
    const V = lm.tokenizer.size;
    expect(st.tensors.has('lm_head.weight')).toBe(false);
    expect(st.tensors.get('model.embed_tokens.weight')!.shape).toEqual([V, 64]);
    expect(st.tensors.get('model.norm.weight')!.shape).toEqual([64]);
    expect(st.tensors.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([32, 64]);
    expect(st.tensors.get('model.layers.1.mlp.down_proj.weight')!.shape).toEqual([64, 128]);
    expect(st.tensors.size).toBe(1 + 2 * 9 + 1);
    for (const t of st.tensors.values()) expect(t.dtype).toBe('F32');
  });
});

describe('generated folders', () => {
  it('tests/fixtures/models holds the current generator output (run `npm run models` if not)', () => {
    for (const m of [makeTinySmolVLM(), makeTinySmolLM2(), makeTinyClipModel()]) {
      for (const [name, contents] of Object.entries(m.files)) {
        const file = path.join(FIXTURES, m.name, name);
        expect(existsSync(file), file).toBe(true);
        const onDisk = new Uint8Array(readFileSync(file));
        expect(onDisk.length, file).toBeLessThan(MB2);
        expect(Buffer.compare(Buffer.from(onDisk), Buffer.from(bytesOf(contents))), file).toBe(0);
      }
    }
  });

  it('the models are committed once: no second copy under public/', () => {
    expect(existsSync(path.join(ROOT, 'public/models'))).toBe(false);
  });
});

/** Character offsets of each token, from the byte-level vocabulary (transformers.js returns no offset mapping). */
function tokenOffsets(tokens: string[], text: string): Array<[number, number]> {
  const u2b = new Map(bytesToUnicode().map((u, b) => [u, b]));
  const enc = new TextEncoder();
  const full = enc.encode(text);
  // byte offset → char (UTF-16) offset, defined at character boundaries
  const byteToChar = new Map<number, number>();
  let b = 0;
  for (let i = 0; i < text.length; ) {
    byteToChar.set(b, i);
    const cp = text.codePointAt(i)!;
    b += enc.encode(String.fromCodePoint(cp)).length;
    i += cp > 0xffff ? 2 : 1;
  }
  byteToChar.set(full.length, text.length);
  const out: Array<[number, number]> = [];
  let at = 0;
  for (const t of tokens) {
    const n = Array.from(t).length; // each symbol is one byte
    for (const ch of t) if (!u2b.has(ch)) throw new Error(`not a byte symbol: ${ch}`);
    const start = at;
    at += n;
    out.push([byteToChar.get(start) ?? -1, byteToChar.get(at) ?? -1]);
  }
  expect(at).toBe(full.length);
  return out;
}

describe('transformers.js loads the generated folders', () => {
  beforeAll(() => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = FIXTURES + path.sep;
  });

  it('AutoTokenizer round-trips text, and token offsets tile the text', async () => {
    const tok = await AutoTokenizer.from_pretrained('tiny-smolvlm');
    const text = 'The image shows a red circle, 42 small cats and an émoji 🙂 in the top left corner!';
    const ids = tok.encode(text) as number[];
    expect(tok.decode(ids)).toBe(text);
    expect(ids.length).toBeLessThan(new TextEncoder().encode(text).length); // merges do something
    const inv = new Map([...(tok.get_vocab() as Map<string, number>)].map(([k, v]) => [v, k]));
    const tokens = ids.map((id) => inv.get(id)!);
    const offsets = tokenOffsets(tokens, text);
    expect(offsets[0][0]).toBe(0);
    expect(offsets[offsets.length - 1][1]).toBe(text.length);
    for (let i = 1; i < offsets.length; i++) {
      if (offsets[i][0] >= 0 && offsets[i - 1][1] >= 0) expect(offsets[i][0]).toBe(offsets[i - 1][1]);
    }
    // Tokens that end on character boundaries decode to exactly their slice.
    offsets.forEach(([s, e], i) => {
      if (s >= 0 && e >= 0) expect(tok.decode([ids[i]])).toBe(text.slice(s, e));
    });
    // Digits are split one by one, like SmolLM2.
    const four = tok.convert_tokens_to_ids('4');
    const two = tok.convert_tokens_to_ids('2');
    expect(tok.encode('42', { add_special_tokens: false })).toEqual([four, two]);
  });

  it('special tokens are single ids and the SmolVLM chat template matches the real one', async () => {
    const tok = await AutoTokenizer.from_pretrained('tiny-smolvlm');
    const m = makeTinySmolVLM();
    for (const t of ['<|endoftext|>', '<|im_start|>', '<|im_end|>', ...imageSpecialTokens()]) {
      expect(tok.encode(t, { add_special_tokens: false })).toEqual([m.tokenizer.specialIds[t]]);
    }
    expect(m.tokenizer.specialIds['<|endoftext|>']).toBe(0);
    expect(m.tokenizer.specialIds['<|im_start|>']).toBe(1);
    expect(m.tokenizer.specialIds['<|im_end|>']).toBe(2);
    const chat = tok.apply_chat_template(
      [
        { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is this?' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'A red circle.' }] },
      ],
      { tokenize: false },
    );
    expect(chat).toBe(
      '<|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant: A red circle.<end_of_utterance>\n',
    );
    const gen = tok.apply_chat_template(
      [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      { tokenize: false, add_generation_prompt: true },
    );
    expect(gen).toBe('<|im_start|>User: Hi<end_of_utterance>\nAssistant:');
    expect(tok.eos_token_id).toBe(m.tokenizer.specialIds['<end_of_utterance>']);
  });

  it('the SmolLM2 tokenizer uses the ChatML template', async () => {
    const tok = await AutoTokenizer.from_pretrained('tiny-smollm2');
    const chat = tok.apply_chat_template(
      [
        { role: 'user', content: 'What is in the image?' },
        { role: 'assistant', content: 'A cat.' },
      ],
      { tokenize: false },
    );
    expect(chat).toBe('<|im_start|>user\nWhat is in the image?<|im_end|>\n<|im_start|>assistant\nA cat.<|im_end|>\n');
    expect(tok.eos_token_id).toBe(2);
    const text = 'The green tree is behind the small house.';
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('the tiny CLIP loads as CLIPTokenizer (start/end tokens added, lower-cased) and CLIPImageProcessor', async () => {
    const tok = await AutoTokenizer.from_pretrained('tiny-clip');
    const m = makeTinyClipModel();
    expect(tok.constructor.name).toBe('CLIPTokenizer');
    expect(tok.model_max_length).toBe(16);
    const ids = tok.encode('The RED circle.') as number[];
    expect(ids[0]).toBe(m.tokenizer.specialIds['<|startoftext|>']);
    expect(ids[ids.length - 1]).toBe(m.tokenizer.specialIds['<|endoftext|>']);
    expect(tok.decode(ids, { skip_special_tokens: true })).toBe('the red circle.');
    const proc = await AutoProcessor.from_pretrained('tiny-clip');
    const pixels = new Uint8ClampedArray(40 * 50 * 3).fill(255);
    const out = await proc(new RawImage(pixels, 40, 50, 3));
    expect(out.pixel_values.dims).toEqual([1, 3, 32, 32]);
    // white normalised with CLIP's mean and std
    expect((out.pixel_values.data as Float32Array)[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 5);
  });

  it('AutoProcessor expands <image> to image_seq_len tokens and makes 32×32 pixel_values', async () => {
    const proc = await AutoProcessor.from_pretrained('tiny-smolvlm');
    const m = makeTinySmolVLM();
    const ids = m.tokenizer.specialIds;
    const prompt = proc.apply_chat_template(
      [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is this?' }] }],
      { add_generation_prompt: true },
    ) as string;
    expect(prompt).toBe('<|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:');
    for (const [w, h] of [
      [20, 10],
      [64, 48],
      [32, 32],
    ]) {
      const pixels = new Uint8ClampedArray(w * h * 3);
      for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 256;
      const image = new RawImage(pixels, w, h, 3);
      const out = await proc(prompt, [image]);
      expect(out.pixel_values.dims).toEqual([1, 1, 3, 32, 32]);
      const inputIds = (out.input_ids.tolist() as bigint[][])[0].map(Number);
      const count = (id: number) => inputIds.filter((x) => x === id).length;
      expect(count(ids['<image>'])).toBe(4);
      expect(count(ids['<fake_token_around_image>'])).toBe(2);
      expect(count(ids['<global-img>'])).toBe(1);
      expect(inputIds[0]).toBe(ids['<|im_start|>']);
      // the image block is contiguous: fake, global, image×4, fake
      const start = inputIds.indexOf(ids['<fake_token_around_image>']);
      expect(inputIds.slice(start, start + 7)).toEqual([
        ids['<fake_token_around_image>'],
        ids['<global-img>'],
        ids['<image>'],
        ids['<image>'],
        ids['<image>'],
        ids['<image>'],
        ids['<fake_token_around_image>'],
      ]);
      // normalised to [-1, 1]
      const pv = out.pixel_values.data as Float32Array;
      expect(Math.min(...pv)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...pv)).toBeLessThanOrEqual(1);
    }
  });
});
