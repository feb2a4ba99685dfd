/** The tiny SmolVLM: an Idefics3 / SmolVLM-256M-Instruct look-alike (BF16 weights, as the real one stores them). */
import { idefics3Family } from '../../src/models/families/idefics3';
import { serializeSafetensors } from '../../src/models/safetensors';
import { buildIdefics3Onnx, type Idefics3Config } from '../onnx/idefics3';
import {
  INIT_STD,
  json,
  randomTensors,
  readme,
  tinyLlamaConfig,
  TINY_SCALE_FACTOR,
  TINY_TEXT_DIMS,
  TINY_VISION_DIMS,
  weightsAsStored,
  type TextDims,
  type TinyModel,
  type VisionDims,
} from './common';
import { addedTokensDecoder, buildTokenizer, type TinyTokenizer } from './tokenizer';

/** SmolVLM-256M-Instruct's chat template (as published with the model). */
export const SMOLVLM_CHAT_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}" +
  "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}" +
  "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}" +
  "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n" +
  "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

export const TINY_SMOLVLM_SEED = 1;

/** What makes one SmolVLM folder differ from another: its name, tokenizer and tower sizes. */
export interface SmolvlmSpec {
  name: string;
  tokenizer: TinyTokenizer;
  text: TextDims;
  vision: VisionDims;
  scaleFactor: number;
}

/** A tiny Idefics3 / SmolVLM-256M-Instruct look-alike. */
export function makeTinySmolVLM(seed = TINY_SMOLVLM_SEED): TinyModel {
  const spec: SmolvlmSpec = { name: 'tiny-smolvlm', tokenizer: buildTokenizer(true), text: TINY_TEXT_DIMS, vision: TINY_VISION_DIMS, scaleFactor: TINY_SCALE_FACTOR };
  const config = smolvlmConfig(spec);
  const shapes = idefics3Family.weightShapes(idefics3Family.parseConfig(config));
  const weights = serializeSafetensors(randomTensors(shapes, seed, 'BF16'), { format: 'pt' });
  return smolvlmFolder(spec, config, weights, readme('tiny-smolvlm', seed, 'Idefics3ForConditionalGeneration (SmolVLM-256M-Instruct layout)'));
}

/** The config.json of a SmolVLM of this spec. */
export function smolvlmConfig(spec: SmolvlmSpec): Record<string, unknown> {
  const v = spec.vision;
  const sf = spec.scaleFactor;
  const ids = spec.tokenizer.specialIds;
  const bos = ids['<|im_start|>'];
  const pad = ids['<|im_end|>'];
  return {
    architectures: ['Idefics3ForConditionalGeneration'],
    image_token_id: ids['<image>'],
    model_type: 'idefics3',
    scale_factor: sf,
    text_config: tinyLlamaConfig(spec.tokenizer.size, { bos, eos: pad, pad }, {
      architectures: ['VLlama3ForCausalLM'],
      neftune_noise_alpha: 0.0,
      pixel_shuffle_factor: sf,
      qk_layer_norms: false,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      use_resampler: false,
    }, spec.text),
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
    vocab_size: spec.tokenizer.size,
  };
}

/**
 * The whole folder of a SmolVLM of this spec: `config` (smolvlmConfig's), `weights` (model.safetensors' bytes, from
 * which the ONNX graphs are built, so both engines read the same numbers) and the README.
 */
export function smolvlmFolder(spec: SmolvlmSpec, config: Record<string, unknown>, weights: Uint8Array, readmeText: string): TinyModel {
  const tok = spec.tokenizer;
  const v = spec.vision;
  const sf = spec.scaleFactor;
  const imageSeqLen = (v.image_size / v.patch_size) ** 2 / sf ** 2;
  const ids = tok.specialIds;
  const bos = ids['<|im_start|>'];
  const eou = ids['<end_of_utterance>'];
  const pad = ids['<|im_end|>'];
  const vocab = tok.size;

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

  const onnx = buildIdefics3Onnx(config as unknown as Idefics3Config, weightsAsStored(weights, `${spec.name}/model.safetensors`));
  return {
    name: spec.name,
    config,
    tokenizer: tok,
    files: {
      'README.md': readmeText,
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
