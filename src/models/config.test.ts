import { describe, expect, it } from 'vitest';
import { type Idefics3Config, type LlamaConfig, parseModelConfig } from './config';
import { imageSeqLen } from './families/fields';
import { SMOLLM2_135M, SMOLVLM_256M_INSTRUCT } from './knownConfigs';

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('parseModelConfig', () => {
  it('parses the SmolVLM-256M-Instruct config', () => {
    const c = parseModelConfig(SMOLVLM_256M_INSTRUCT) as Idefics3Config;
    expect(c).toEqual({
      modelType: 'idefics3',
      scaleFactor: 4,
      imageTokenId: 49190,
      text: {
        hiddenSize: 576,
        intermediateSize: 1536,
        numLayers: 30,
        numHeads: 9,
        numKvHeads: 3,
        headDim: 64,
        rmsNormEps: 1e-5,
        ropeTheta: 100000,
        vocabSize: 49280,
        tieWordEmbeddings: false,
        maxPositionEmbeddings: 8192,
      },
      vision: {
        hiddenSize: 768,
        intermediateSize: 3072, // absent from the file: Idefics3VisionConfig default
        numLayers: 12, // absent from the file: default
        numHeads: 12,
        imageSize: 512,
        patchSize: 16,
        layerNormEps: 1e-6, // absent from the file: Idefics3VisionConfig default
        numChannels: 3, // absent from the file: default
      },
    });
    // (512/16)² = 1024 patches, shuffled by 4×4 → 64 image tokens per 512×512 tile (the model card's number).
    expect(imageSeqLen(c)).toBe(64);
  });

  it('accepts model_type "smolvlm" as the same architecture', () => {
    const json = clone(SMOLVLM_256M_INSTRUCT) as Record<string, unknown>;
    json.model_type = 'smolvlm';
    const c = parseModelConfig(json);
    expect(c).toEqual(parseModelConfig(SMOLVLM_256M_INSTRUCT));
  });

  it('parses the SmolLM2-135M config', () => {
    const c = parseModelConfig(SMOLLM2_135M) as LlamaConfig;
    expect(c).toEqual({
      modelType: 'llama',
      text: {
        hiddenSize: 576,
        intermediateSize: 1536,
        numLayers: 30,
        numHeads: 9,
        numKvHeads: 3,
        headDim: 64, // absent: hidden_size / num_attention_heads
        rmsNormEps: 1e-5,
        ropeTheta: 100000,
        vocabSize: 49152,
        tieWordEmbeddings: true,
        maxPositionEmbeddings: 8192,
      },
    });
  });

  it('applies the LlamaConfig defaults to a minimal llama config', () => {
    const c = parseModelConfig({
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 8,
      vocab_size: 100,
    }) as LlamaConfig;
    expect(c.text).toEqual({
      hiddenSize: 64,
      intermediateSize: 128,
      numLayers: 2,
      numHeads: 8,
      numKvHeads: 8,
      headDim: 8,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      vocabSize: 100,
      tieWordEmbeddings: false,
      maxPositionEmbeddings: 2048,
    });
  });

  it('applies the Idefics3Config / Idefics3VisionConfig defaults', () => {
    const text_config = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: 130000 };
    const c = parseModelConfig({
      model_type: 'idefics3',
      text_config,
      vision_config: { hidden_size: 48, num_attention_heads: 4, image_size: 64, patch_size: 16 },
    }) as Idefics3Config;
    expect(c.scaleFactor).toBe(2);
    expect(c.imageTokenId).toBe(128257);
    expect(c.text.tieWordEmbeddings).toBe(false);
    expect(imageSeqLen(c)).toBe(4);

    // image_size 224 / patch_size 32 (the defaults) give a 7×7 grid, which needs a scale factor dividing 7.
    const d = parseModelConfig({
      model_type: 'idefics3',
      scale_factor: 7,
      text_config,
      vision_config: { hidden_size: 48, num_attention_heads: 4 },
    }) as Idefics3Config;
    expect(d.vision).toEqual({
      hiddenSize: 48,
      intermediateSize: 3072,
      numLayers: 12,
      numHeads: 4,
      imageSize: 224,
      patchSize: 32,
      layerNormEps: 1e-6,
      numChannels: 3,
    });
    expect(() => parseModelConfig({ model_type: 'idefics3', text_config, vision_config: { hidden_size: 48, num_attention_heads: 4 } })).toThrow(
      /patches per side \(7 = image_size\/patch_size\) must be divisible by "scale_factor" \(2\)/,
    );
  });

  it('takes the top-level tie_word_embeddings when text_config has none, and text_config’s when present', () => {
    const base = clone(SMOLVLM_256M_INSTRUCT) as Record<string, unknown>;
    base.tie_word_embeddings = true;
    expect((parseModelConfig(base) as Idefics3Config).text.tieWordEmbeddings).toBe(true);
    (base.text_config as Record<string, unknown>).tie_word_embeddings = false;
    expect((parseModelConfig(base) as Idefics3Config).text.tieWordEmbeddings).toBe(false);
  });

  it('reads rope_theta from rope_parameters (transformers v5 layout)', () => {
    const json = clone(SMOLLM2_135M) as Record<string, unknown>;
    delete json.rope_theta;
    json.rope_parameters = { rope_type: 'default', rope_theta: 5e5 };
    expect((parseModelConfig(json) as LlamaConfig).text.ropeTheta).toBe(5e5);
  });

  it('rejects an unsupported model_type, listing the supported ones', () => {
    expect(() => parseModelConfig({ ...SMOLLM2_135M, model_type: 'qwen2' })).toThrow(
      /unsupported model_type "qwen2" \(supported: idefics3, smolvlm, llama\)/,
    );
    expect(() => parseModelConfig({ hidden_size: 3 })).toThrow(/missing required field "model_type".*idefics3, smolvlm, llama/);
  });

  it('names a missing required field', () => {
    const llama = clone(SMOLLM2_135M) as Record<string, unknown>;
    delete llama.num_hidden_layers;
    expect(() => parseModelConfig(llama)).toThrow(/missing required field "num_hidden_layers"/);

    const vlm = clone(SMOLVLM_256M_INSTRUCT);
    delete (vlm.text_config as Record<string, unknown>).vocab_size;
    expect(() => parseModelConfig(vlm)).toThrow(/missing required field "text_config.vocab_size"/);

    const vlm2 = clone(SMOLVLM_256M_INSTRUCT);
    delete (vlm2.vision_config as Record<string, unknown>).hidden_size;
    expect(() => parseModelConfig(vlm2)).toThrow(/missing required field "vision_config.hidden_size"/);

    const vlm3 = clone(SMOLVLM_256M_INSTRUCT) as Record<string, unknown>;
    delete vlm3.vision_config;
    expect(() => parseModelConfig(vlm3)).toThrow(/missing required field "vision_config"/);
  });

  it('rejects malformed or unsupported values', () => {
    expect(() => parseModelConfig({ ...SMOLLM2_135M, hidden_size: 57.5 })).toThrow(/"hidden_size" must be a positive integer/);
    expect(() => parseModelConfig({ ...SMOLLM2_135M, num_key_value_heads: 4 })).toThrow(/multiple of "num_key_value_heads"/);
    expect(() => parseModelConfig({ ...SMOLLM2_135M, rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(
      /unsupported RoPE scaling "llama3"/,
    );
    expect(() => parseModelConfig({ ...SMOLLM2_135M, hidden_act: 'gelu' })).toThrow(/unsupported "hidden_act" "gelu"/);
    expect(() => parseModelConfig({ ...SMOLVLM_256M_INSTRUCT, scale_factor: 3 })).toThrow(/divisible by "scale_factor"/);
  });
});
