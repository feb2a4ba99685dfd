import * as tf from '@tensorflow/tfjs';
import type { PreTrainedTokenizer, Processor, RawImage } from '@huggingface/transformers';
import { parseModelConfig, type ModelConfig } from '../config';
import type {
  GenerateRequest,
  GenerateResult,
  LogprobsRequest,
  MllmEngine,
  ResponseLogprobs,
} from '../engine';
import { imageKey } from '../imageKey';
import { openSafetensors } from '../safetensors';
import type { ModelSource, ProgressCallback } from '../sources';
import { promptText, tokenizeResponse, type ChatFormat } from '../teacherForcing';
import { loadProcessor, loadTokenizer } from '../transformersEnv';
import type { Idefics3Model } from './idefics3';
import type { LlamaModel } from './llama';
import type { LoraOptions } from './lora';
import { DEFAULT_LORA, loadIdefics3Model, loadLlamaModel, type WeightMap } from './weights';

/** One response of a batch, ready for the decoder: prompt ids then response ids. */
export interface EncodedResponse {
  inputIds: number[];
  responseStart: number;
  tokens: ReturnType<typeof tokenizeResponse>;
}

/** A prompt (with its image) encoded once and shared by every response scored against it. */
export interface EncodedPrompt {
  promptIds: number[];
  /** [1, image_seq_len, D] image features, cached per image; undefined for text-only prompts. */
  imageFeatures?: tf.Tensor3D;
}

/** Every weight of the checkpoint as float32 (BF16/F16 decode exactly), keyed by its Hugging Face name. */
export function weightMapFromSafetensors(bytes: Uint8Array, fileName: string): WeightMap {
  const file = openSafetensors(bytes, fileName);
  const weights: WeightMap = new Map();
  for (const name of file.entries.keys()) {
    const tensor = file.read(name);
    if (!(tensor.data instanceof Float32Array)) continue;
    weights.set(name, { shape: tensor.shape, data: tensor.data });
  }
  return weights;
}

export { imageKey };

function idsOf(tensorLike: { data: ArrayLike<number | bigint> }): number[] {
  return Array.from(tensorLike.data, (v) => Number(v));
}

export class TfjsEngine implements MllmEngine {
  readonly kind = 'tfjs' as const;
  private readonly featureCache = new Map<string, tf.Tensor3D>();

  constructor(
    readonly config: ModelConfig,
    readonly model: Idefics3Model | LlamaModel,
    readonly tokenizer: PreTrainedTokenizer,
    readonly processor: Processor | null,
    readonly format: ChatFormat,
  ) {}

  private get isMultimodal(): boolean {
    return this.config.modelType === 'idefics3';
  }

  /** Encodes the templated prompt; with an image, runs the image processor and the frozen vision tower once per image. */
  async encodePrompt(prompt: string, image?: RawImage): Promise<EncodedPrompt> {
    if (image && !this.isMultimodal) throw new Error('This model reads text only; remove the image or load a multimodal model.');
    const text = promptText(this.tokenizer, prompt, !!image, this.format);
    if (!image) return { promptIds: this.tokenizer.encode(text) };
    const inputs = await this.processor!(text, image);
    const promptIds = idsOf(inputs.input_ids);
    const key = imageKey(image);
    let features = this.featureCache.get(key);
    if (!features) {
      const [, n, c, h, w] = inputs.pixel_values.dims as number[];
      const pixels = tf.tensor4d(inputs.pixel_values.data as Float32Array, [n, c, h, w]);
      const perTile = (this.model as Idefics3Model).visionFeatures(pixels);
      pixels.dispose();
      // Tiles of one image sit one after another in the prompt, so they become one row of features.
      features = tf.tidy(() => perTile.reshape([1, -1, perTile.shape[2]]) as tf.Tensor3D);
      perTile.dispose();
      this.featureCache.set(key, features);
    }
    return { promptIds, imageFeatures: features };
  }

  encodeResponse(encoded: EncodedPrompt, prompt: string, response: string): EncodedResponse {
    const tokens = tokenizeResponse(this.tokenizer, prompt, response, encoded.imageFeatures !== undefined, this.format);
    return { inputIds: [...encoded.promptIds, ...tokens.ids], responseStart: encoded.promptIds.length, tokens };
  }

  /**
   * Per-token log-probs of each response's tokens as a tensor [B, Tmax] (right-padded with 0), differentiable in
   * the LoRA variables: the training step calls this inside its gradient function.
   */
  responseLogprobs(encoded: EncodedPrompt, batch: EncodedResponse[], adapters: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const longest = Math.max(...batch.map((b) => b.inputIds.length));
      const inputIds = batch.map((b) => [...b.inputIds, ...Array<number>(longest - b.inputIds.length).fill(0)]);
      const attentionMask = batch.map((b) => b.inputIds.map(() => 1).concat(Array<number>(longest - b.inputIds.length).fill(0)));
      const imageFeatures = encoded.imageFeatures ? tf.tile(encoded.imageFeatures, [batch.length, 1, 1]) : undefined;
      const all = this.isMultimodal
        ? (this.model as Idefics3Model).tokenLogprobs({ inputIds, attentionMask, imageFeatures, lora: adapters })
        : (this.model as LlamaModel).tokenLogprobs({ inputIds, attentionMask, lora: adapters });
      // all[:, t] is log p(ids[t + 1] | ids[≤ t]); response token p sits at column p − 1.
      const start = batch[0].responseStart - 1;
      const width = Math.max(...batch.map((b) => b.tokens.ids.length));
      const padded = all.pad([
        [0, 0],
        [0, Math.max(0, start + width - all.shape[1])],
      ]);
      return padded.slice([0, start], [batch.length, width]) as tf.Tensor2D;
    });
  }

  async logprobs(request: LogprobsRequest): Promise<ResponseLogprobs[]> {
    if (request.responses.length === 0) return [];
    const encoded = await this.encodePrompt(request.prompt, request.image);
    const batch = request.responses.map((r) => this.encodeResponse(encoded, request.prompt, r));
    const logps = this.responseLogprobs(encoded, batch, request.adapters ?? true);
    const values = (await logps.data()) as Float32Array;
    const width = logps.shape[1];
    logps.dispose();
    return batch.map((b, row) => {
      const tokens = b.tokens.ids.map((id, k) => ({
        id,
        text: b.tokens.texts[k],
        start: b.tokens.offsets[k][0],
        end: b.tokens.offsets[k][1],
        logp: values[row * width + k],
      }));
      return {
        inputIds: b.inputIds,
        responseStart: b.responseStart,
        tokens,
        total: tokens.reduce((sum, t) => sum + t.logp, 0),
        eosIndex: b.tokens.eosIndex,
      };
    });
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const encoded = await this.encodePrompt(request.prompt, request.image);
    const options = {
      maxNewTokens: request.maxNewTokens,
      eosTokenId: this.format.endOfTurnId,
      temperature: request.greedy === false ? (request.temperature ?? 1) : 0,
      topP: request.topP,
      seed: request.seed,
      lora: request.adapters ?? true,
      signal: request.signal,
      onToken: request.onToken
        ? (id: number) => request.onToken!({ id, text: this.tokenizer.decode([id], { skip_special_tokens: false }) })
        : undefined,
    };
    const result = this.isMultimodal
      ? await (this.model as Idefics3Model).generate({ ...options, inputIds: encoded.promptIds, imageFeatures: encoded.imageFeatures })
      : await (this.model as LlamaModel).generate(encoded.promptIds, options);
    const ids = result.ids;
    // transformers.js refuses to decode an empty list (maxNewTokens 0, or an immediate stop).
    const text = ids.length ? this.tokenizer.decode(ids, { skip_special_tokens: true }) : '';
    return { ids, text, stop: result.stop };
  }

  dispose(): void {
    for (const features of this.featureCache.values()) features.dispose();
    this.featureCache.clear();
    this.model.dispose();
  }
}

export interface LoadTfjsEngineOptions {
  lora?: LoraOptions;
  onProgress?: ProgressCallback;
}

/** Config, weights, tokenizer and processor, all read from one model source. */
export async function loadTfjsEngine(source: ModelSource, options: LoadTfjsEngineOptions = {}): Promise<TfjsEngine> {
  const config = parseModelConfig(await source.getJson('config.json', options.onProgress));
  const bytes = await source.getFile('model.safetensors', options.onProgress);
  const weights = weightMapFromSafetensors(bytes, `${source.label}/model.safetensors`);
  const lora = options.lora ?? DEFAULT_LORA;
  const processor = config.modelType === 'idefics3' ? await loadProcessor(source) : null;
  const tokenizer = processor ? (processor.tokenizer as PreTrainedTokenizer) : await loadTokenizer(source);
  if (tokenizer.eos_token_id === undefined || tokenizer.eos_token_id === null) {
    throw new Error(`${source.label}: tokenizer_config.json names no eos_token, so the end of an answer is unknown.`);
  }
  const format: ChatFormat = { contentAsParts: config.modelType === 'idefics3', endOfTurnId: tokenizer.eos_token_id };
  const model = config.modelType === 'idefics3' ? loadIdefics3Model(config, weights, lora) : loadLlamaModel(config, weights, lora);
  return new TfjsEngine(config, model, tokenizer, processor, format);
}
