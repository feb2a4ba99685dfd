/** The tiny SmolLM2: a LlamaForCausalLM in the SmolLM2-Instruct layout (tied embeddings, F32 weights). */
import { llamaFamily } from '../../src/models/families/llama';
import { serializeSafetensors } from '../../src/models/safetensors';
import { json, randomTensors, readme, tinyLlamaConfig, type TinyModel } from './common';
import { addedTokensDecoder, buildTokenizer } from './tokenizer';

/** SmolLM2-Instruct's ChatML template, without the default system prompt the real one injects. */
export const SMOLLM2_CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

export const TINY_SMOLLM2_SEED = 2;

/** A tiny SmolLM2-Instruct look-alike (LlamaForCausalLM, tied embeddings). */
export function makeTinySmolLM2(seed = TINY_SMOLLM2_SEED): TinyModel {
  const tok = buildTokenizer(false);
  const vocab = tok.size;
  const ids = tok.specialIds;
  const bos = ids['<|im_start|>'];
  const eos = ids['<|im_end|>'];
  const config = tinyLlamaConfig(vocab, { bos, eos, pad: eos }, {
    architectures: ['LlamaForCausalLM'],
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
  });
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
  const shapes = llamaFamily.weightShapes(llamaFamily.parseConfig(config));
  const weights = serializeSafetensors(randomTensors(shapes, seed, 'F32'), { format: 'pt' });
  return {
    name: 'tiny-smollm2',
    config,
    tokenizer: tok,
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
