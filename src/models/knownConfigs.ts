/** config.json literals of real checkpoints, shared by the config tests and the benchmarks (which build random models of these shapes). */

/**
 * config.json of HuggingFaceTB/SmolVLM-256M-Instruct, as far as the search tool's sources go:
 * it held no verbatim copy of this file. The layout follows the verbatim config.json of its
 * sibling SmolVLM2-500M-Video-Instruct (same generation of checkpoints: nested text_config with
 * VLlama3 bookkeeping fields, and a vision_config that omits num_hidden_layers / intermediate_size,
 * so HF's defaults 12 / 3072 apply); the values are the 256M ones that every public copy agrees
 * on (text 576/1536/30 layers/9 heads/3 kv heads/head_dim 64/θ 1e5/vocab 49280/8192 positions;
 * vision 768 wide, 12 heads, 512 px, 16 px patches; scale_factor 4; image_token_id 49190; untied head).
 */
export const SMOLVLM_256M_INSTRUCT = {
  architectures: ['Idefics3ForConditionalGeneration'],
  image_token_id: 49190,
  model_type: 'idefics3',
  scale_factor: 4,
  text_config: {
    architectures: ['VLlama3ForCausalLM'],
    head_dim: 64,
    hidden_size: 576,
    intermediate_size: 1536,
    is_llama_config: true,
    max_position_embeddings: 8192,
    model_type: 'llama',
    neftune_noise_alpha: 0.0,
    num_attention_heads: 9,
    num_hidden_layers: 30,
    num_key_value_heads: 3,
    pad_token_id: 2,
    pixel_shuffle_factor: 4,
    qk_layer_norms: false,
    rms_norm_eps: 1e-5,
    rope_interleaved: false,
    rope_theta: 100000,
    torch_dtype: 'bfloat16',
    use_resampler: false,
    vocab_size: 49280,
  },
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vision_config: {
    hidden_size: 768,
    image_size: 512,
    max_image_size: { longest_edge: 512 },
    num_attention_heads: 12,
    patch_size: 16,
    size: { longest_edge: 2048 },
    tie_word_embeddings: false,
  },
  vocab_size: 49280,
};

/** config.json of HuggingFaceTB/SmolLM2-135M, field for field as quoted by a public copy the search tool holds. */
export const SMOLLM2_135M = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  vocab_size: 49152,
};
