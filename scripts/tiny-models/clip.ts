/** The tiny CLIP (openai/clip-vit-base-patch32 layout: CLIPTokenizer, CLIPImageProcessor, F32 weights). */
import { serializeSafetensors, type SafetensorsTensor } from '../../src/models/safetensors';
import { buildClipOnnx, makeTinyClip, type ClipConfig } from '../onnx/clip';
import type { WeightMap } from '../onnx/idefics3';
import { json, readme, weightsAsStored, type TinyModel } from './common';
import { addedTokensDecoder, buildClipTokenizer, CLIP_BOS, CLIP_EOS, type TinyTokenizer } from './tokenizer';

export const TINY_CLIP_SEED = 3;
/** CLIP's text window of the tiny CLIP (`max_position_embeddings` = `model_max_length`), small so truncation is testable. */
export const TINY_CLIP_CONTEXT = 16;
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
  return clipModelFolder('tiny-clip', config, weights, tok, readme('tiny-clip', seed, 'CLIPModel (openai/clip-vit-base-patch32 layout)'));
}

/**
 * A CLIP's Hugging Face folder (openai/clip-vit-base-patch32 layout): config.json, the tokenizer's files,
 * preprocessor_config.json, F32 model.safetensors and the ONNX towers built from the stored tensors.
 */
export function clipModelFolder(name: string, config: ClipConfig, weights: WeightMap, tok: TinyTokenizer, readmeText: string): TinyModel {
  const context = config.text_config.max_position_embeddings;
  const fullConfig = { ...config, torch_dtype: 'float32', transformers_version: '4.46.0' };
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [tensor, w] of weights) tensors[tensor] = { dtype: 'F32', shape: w.shape, data: w.data };
  const safetensors = serializeSafetensors(tensors, { format: 'pt' });
  const onnx = buildClipOnnx(config, weightsAsStored(safetensors, `${name}/model.safetensors`));
  const tokenizerConfig = {
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder(tok),
    bos_token: CLIP_BOS,
    clean_up_tokenization_spaces: false,
    do_lower_case: true,
    eos_token: CLIP_EOS,
    errors: 'replace',
    model_max_length: context,
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
    name,
    config: fullConfig,
    tokenizer: tok,
    files: {
      'README.md': readmeText,
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
