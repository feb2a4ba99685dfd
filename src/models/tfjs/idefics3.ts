/**
 * Idefics3 / SmolVLM in TF.js: SigLIP vision tower → pixel-shuffle connector → Llama decoder,
 * with LoRA adapters on the decoder's linears.
 *
 *   image features  = connector(vision_model(pixel_values))               [N_img, image_seq_len, D]
 *   inputs_embeds   = embed_tokens(input_ids), where input_ids == image_token_id
 *                     replaced, in order, by the image feature rows           [B, T, D]
 *   logits          = text_model(inputs_embeds)                               [B, T, V]
 *
 * Image features are placed exactly as HF `Idefics3Model.inputs_merger` does:
 * `inputs_embeds[input_ids == image_token_id] = image_features.view(-1, D)`,
 * i.e. the k-th image token of the batch in row-major (batch, then position)
 * order receives row k of the flattened features (image ⌊k / image_seq_len⌋,
 * token k mod image_seq_len). The number of image tokens must equal
 * N_img · image_seq_len. (The merge is a gather over [text embeddings; image rows],
 * so gradients flow back into the image features too.)
 *
 * API
 * ---
 *   import { parseModelConfig } from '../config';
 *   import { loadIdefics3Model, randomWeights } from './weights';
 *   // weightMap: Map<HF name, { shape, data: Float32Array }>, e.g. from model.safetensors, or randomWeights(config, seed)
 *   const model = loadIdefics3Model(parseModelConfig(json) as Idefics3Config, weightMap, { r: 8, alpha: 16, seed: 0 });
 *   model.visionFeatures(pixelValues: Tensor4D [N,3,H,W]): Tensor3D            [N, image_seq_len, D]
 *   model.forward({ inputIds, attentionMask?, imageFeatures? | pixelValues?, lora? }): Tensor3D   logits [B,T,V]
 *   model.tokenLogprobs({ …same… }): Tensor2D     [B, T−1], log p(ids[t+1] | ≤ t); 0 on padded targets;
 *                                                  differentiable w.r.t. the LoRA variables
 *   model.prefill({ …same… }): { logits, cache }   then  model.step(cache, [[id]], { lora? }): logits [B,1,V]
 *   await model.generate({ inputIds: number[], imageFeatures?, maxNewTokens, eosTokenId?, temperature?, topP?, seed?,
 *                          lora?, onToken?, signal? }): { ids: number[], stop: 'eos' | 'length' | 'aborted' }
 *   model.lora: LoraAdapters   (.enabled = false → the frozen reference model; .variables() → trainables)
 *   model.dispose()
 *
 * The text-only `LlamaModel` (llama.ts; `loadLlamaModel` for SmolLM2) has the same methods with
 * `{ inputIds, attentionMask?, lora? }` and `generate(inputIds: number[], opts)`; it is also
 * `model.text` here.
 *
 * `lora` in any call overrides `model.lora.enabled` for that call. Every method returns
 * new tensors that the caller disposes; intermediate tensors are freed with tf.tidy.
 * `attentionMask` is 1 for tokens, 0 for padding (right or left padding both work).
 */
import * as tf from '@tensorflow/tfjs';
import type { Idefics3Config } from '../config';
import { imageSeqLen } from '../families/fields';
import type { Idefics3Connector } from './connector';
import { gatherRows } from './gatherRows';
import type { DecodeOptions, GenerateOptions, GenerateResult, KVCache, LlamaModel } from './llama';
import type { LoraAdapters } from './lora';
import type { SiglipVisionTransformer } from './siglip';

export interface MultimodalInput extends DecodeOptions {
  /** [B, T] token ids, image tokens included */
  inputIds: number[][];
  /** [N_img, image_seq_len, D] from `visionFeatures` (cache them: the vision tower is frozen) */
  imageFeatures?: tf.Tensor3D;
  /** alternatively [N_img, C, H, W]; the features are computed and freed inside the call */
  pixelValues?: tf.Tensor4D;
}

export interface MultimodalGenerateOptions extends GenerateOptions {
  inputIds: number[];
  imageFeatures?: tf.Tensor3D;
  pixelValues?: tf.Tensor4D;
}

export class Idefics3Model {
  readonly imageSeqLen: number;

  constructor(
    readonly config: Idefics3Config,
    readonly vision: SiglipVisionTransformer,
    readonly connector: Idefics3Connector,
    readonly text: LlamaModel,
  ) {
    this.imageSeqLen = imageSeqLen(config);
  }

  get lora(): LoraAdapters {
    return this.text.lora;
  }

  /** pixel_values [N, C, H, W] → image features in the text embedding space [N, image_seq_len, D]. */
  visionFeatures(pixelValues: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => this.connector.forward(this.vision.forward(pixelValues)));
  }

  /** Token embeddings with the image features placed at the image-token positions: [B, T, D]. */
  embedInputs(inputIds: number[][], imageFeatures?: tf.Tensor3D): tf.Tensor3D {
    const imageId = this.config.imageTokenId;
    const b = inputIds.length;
    const t = inputIds[0]?.length ?? 0;
    let count = 0;
    for (const row of inputIds) for (const id of row) if (id === imageId) count++;
    const available = imageFeatures ? imageFeatures.shape[0] * imageFeatures.shape[1] : 0;
    if (count !== available) {
      throw new Error(
        `the input has ${count} image tokens (id ${imageId}) but ${available} image feature rows were given` +
          (imageFeatures ? ` (${imageFeatures.shape[0]} images × ${imageFeatures.shape[1]})` : ''),
      );
    }
    if (imageFeatures && imageFeatures.shape[2] !== this.config.text.hiddenSize) {
      throw new Error(`image features have width ${imageFeatures.shape[2]}, the decoder expects ${this.config.text.hiddenSize}`);
    }
    return tf.tidy(() => {
      const tokens = this.text.embed(inputIds);
      if (!imageFeatures || count === 0) return tokens;
      const d = this.config.text.hiddenSize;
      // Row i of [token embeddings (B·T rows); image rows] for each flat position, image rows taken in order.
      const index = new Int32Array(b * t);
      let k = 0;
      for (let bi = 0; bi < b; bi++) {
        for (let ti = 0; ti < t; ti++) {
          const flat = bi * t + ti;
          index[flat] = inputIds[bi][ti] === imageId ? b * t + k++ : flat;
        }
      }
      const table = tf.concat([tokens.reshape([b * t, d]), imageFeatures.reshape([count, d])], 0);
      return gatherRows(table, index).reshape([b, t, d]) as tf.Tensor3D;
    });
  }

  private withFeatures<T>(input: { imageFeatures?: tf.Tensor3D; pixelValues?: tf.Tensor4D }, fn: (f?: tf.Tensor3D) => T): T {
    if (input.imageFeatures && input.pixelValues) throw new Error('pass either imageFeatures or pixelValues, not both');
    if (!input.pixelValues) return fn(input.imageFeatures);
    const features = this.visionFeatures(input.pixelValues);
    try {
      return fn(features);
    } finally {
      features.dispose();
    }
  }

  /** logits [B, T, V] */
  forward(input: MultimodalInput): tf.Tensor3D {
    return this.withFeatures(input, (features) =>
      tf.tidy(() => this.text.logits(this.text.hidden(this.embedInputs(input.inputIds, features), input))),
    );
  }

  /** log p(ids[b, t+1] | ids[b, ≤t], images) for t < T−1: [B, T−1]; 0 where the target is padding. */
  tokenLogprobs(input: MultimodalInput): tf.Tensor2D {
    return this.withFeatures(input, (features) =>
      tf.tidy(() => this.text.tokenLogprobsFromEmbeds(this.embedInputs(input.inputIds, features), input.inputIds, input)),
    );
  }

  /** Run the prompt (images included) and keep a KV cache for `step`. */
  prefill(input: MultimodalInput): { logits: tf.Tensor3D; cache: KVCache } {
    return this.withFeatures(input, (features) => {
      const embeds = this.embedInputs(input.inputIds, features);
      try {
        return this.text.prefillEmbeds(embeds, input);
      } finally {
        embeds.dispose();
      }
    });
  }

  /** Next text tokens [B, t] after the cached ones; extends the cache in place; logits [B, t, V]. */
  step(cache: KVCache, nextIds: number[][], opts: DecodeOptions = {}): tf.Tensor3D {
    return this.text.step(cache, nextIds, opts);
  }

  /** Generate for one prompt (greedy unless temperature > 0): the new token ids and why it stopped. */
  async generate(opts: MultimodalGenerateOptions): Promise<GenerateResult> {
    if (opts.imageFeatures && opts.pixelValues) throw new Error('pass either imageFeatures or pixelValues, not both');
    const features = opts.pixelValues ? this.visionFeatures(opts.pixelValues) : opts.imageFeatures;
    try {
      const embeds = this.embedInputs([opts.inputIds], features);
      try {
        return await this.text.generateFromEmbeds(embeds, opts);
      } finally {
        embeds.dispose();
      }
    } finally {
      if (opts.pixelValues) features?.dispose();
    }
  }

  dispose(): void {
    const v = this.vision.weights;
    const tensors: tf.Tensor[] = [v.patchWeight, v.patchBias, v.positionEmbedding, v.postLayernorm.weight, v.postLayernorm.bias];
    for (const l of v.layers) {
      tensors.push(l.layerNorm1.weight, l.layerNorm1.bias, l.layerNorm2.weight, l.layerNorm2.bias);
      for (const lin of [l.qProj, l.kProj, l.vProj, l.outProj, l.fc1, l.fc2]) {
        tensors.push(lin.weight);
        if (lin.bias) tensors.push(lin.bias);
      }
    }
    tensors.push(this.connector.proj.weight);
    tf.dispose(tensors);
    this.text.dispose(); // also disposes the LoRA variables
  }
}
